import { SpanKind } from '@opentelemetry/api';
import type { InMemorySpanExporter, ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { randomBytes } from 'node:crypto';

/** A fresh W3C trace context for one request: its traceparent, and the ids in it. */
export function newTraceparent(): { header: string; traceId: string; parentId: string } {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { header: `00-${traceId}-${parentId}-01`, traceId, parentId };
}

export const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;

export const childrenOf = (spans: ReadableSpan[], parent: ReadableSpan): ReadableSpan[] =>
  spans.filter((s) => parentOf(s) === parent.spanContext().spanId);

/**
 * The finished spans of one trace, once its HTTP server span has ended (it ends in Fastify's
 * onResponse, which may run just after the client has read the answer).
 */
export async function traceOf(
  exporter: InMemorySpanExporter,
  traceId: string,
): Promise<{ spans: ReadableSpan[]; server: ReadableSpan }> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const server = spans.find((s) => s.kind === SpanKind.SERVER);
    if (server) return { spans, server };
    if (Date.now() > deadline) throw new Error(`no server span in trace ${traceId}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Every attribute and event attribute value of `spans`, as text. */
export function recordedText(spans: ReadableSpan[]): string {
  return JSON.stringify(
    spans.map((s) => ({
      name: s.name,
      attributes: s.attributes,
      events: s.events.map((e) => ({ name: e.name, attributes: e.attributes })),
      status: s.status,
    })),
  );
}
