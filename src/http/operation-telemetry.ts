import type { RequestPlugin } from './request-plugins';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Context } from '../context';
import type { Metrics } from '../metrics';
import { telemetry } from '../telemetry';

/** Longer operation names are cut in spans (the name is the client's text). */
const MAX_NAME_IN_SPAN = 128;
/** Codes that say the server, not the caller, failed: the operation's span is an error. */
const SERVER_FAULTS = new Set(['INTERNAL_SERVER_ERROR', 'SERVICE_UNAVAILABLE']);

/**
 * Runs one GraphQL request (Apollo's whole pipeline: context, parse, validate, cost, execute)
 * inside the operation's span, a child of the HTTP server span; operationTelemetry() below
 * names it once the operation is known, the query-cost plugin adds the cost. (Apollo's hooks
 * cannot make a span current for what follows them, hence the span starts here.) Only called
 * when telemetry is on.
 */
export async function inOperationSpan<T>(run: () => Promise<T>): Promise<T> {
  const span = telemetry.tracer.startSpan('graphql');
  try {
    return await context.with(trace.setSpan(context.active(), span), run);
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw err;
  } finally {
    span.end();
  }
}

/**
 * Per operation: its latency in /metrics (by type and a bounded name, see Metrics), and, when
 * telemetry is on, its span's name and attributes (`graphql.operation.type`, `.name`; the
 * document itself is never recorded: literals in it can be personal data). A document that
 * never resolves to an operation (does not parse, fails validation) is not an operation: it is
 * timed only as an HTTP request.
 */
export function operationTelemetry(metrics: Metrics): RequestPlugin<Context> {
  return {
    requestDidStart() {
      const started = performance.now();
      let type: string | null = null;
      let name: string | null = null;
      return {
        didResolveOperation({ operation }) {
          if (!operation) return;
          type = operation.operation;
          name = operation.name?.value ?? null;
          if (telemetry.enabled) {
            const span = trace.getSpan(context.active());
            const shown = name?.slice(0, MAX_NAME_IN_SPAN);
            span?.updateName(shown ? `${type} ${shown}` : type);
            span?.setAttributes({
              'graphql.operation.type': type,
              ...(shown ? { 'graphql.operation.name': shown } : {}),
            });
          }
        },
        willSendResponse({ response }) {
          if (type !== null) {
            metrics.observeOperation(type, name, (performance.now() - started) / 1000);
          }
          if (!telemetry.enabled || response.body.kind !== 'single') return;
          const errors = response.body.singleResult.errors;
          if (!errors?.length) return;
          const codes = [...new Set(errors.map((e) => String(e.extensions?.code ?? 'UNKNOWN')))];
          const span = trace.getSpan(context.active());
          span?.setAttribute('switchboard.graphql.error_codes', codes.sort());
          if (codes.some((code) => SERVER_FAULTS.has(code))) {
            span?.setStatus({ code: SpanStatusCode.ERROR });
          }
        },
      };
    },
  };
}
