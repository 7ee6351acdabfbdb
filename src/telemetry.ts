import {
  context,
  diag,
  DiagLogLevel,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';

/**
 * OpenTelemetry traces, made by hand at the code's own seams (the HTTP server span in
 * http/tracing.ts, the GraphQL operation in http/graphql-handler.ts and http/operation-metrics.ts,
 * each SQL statement in db/pool-guard.ts, Redis calls in lib/rate-limit.ts and
 * lib/cost-budget.ts, tool calls in upstream/upstream-client.ts), never by patching modules.
 *
 * Every seam reads `telemetry.enabled` first, set once when telemetry starts: while it is false
 * (no OTEL_EXPORTER_OTLP_ENDPOINT) no seam calls the tracing API at all, and the SDK is never
 * loaded. A process holds one tracer provider (the API's globals): one app at a time traces.
 */
export const telemetry: { readonly enabled: boolean; readonly tracer: Tracer } = {
  enabled: false,
  tracer: trace.getTracer('switchboard'),
};

const state = telemetry as { enabled: boolean; tracer: Tracer };

export interface TelemetrySettings {
  /** Where spans are POSTed (OTLP/HTTP, JSON): the full traces URL, `…/v1/traces`. */
  tracesEndpoint?: string;
  /** service.name of every span (OTEL_SERVICE_NAME). */
  serviceName?: string;
  /**
   * Spans go to this exporter, each as it ends (SimpleSpanProcessor), instead of being batched
   * to the endpoint: tests read them from an InMemorySpanExporter.
   */
  exporter?: SpanExporter;
  /** Where the SDK's own warnings go (an export that failed: the collector is down). */
  logger?: Logger;
}

export interface Telemetry {
  /** Exports what is still buffered, then stops tracing (the seams go quiet again). */
  shutdown(): Promise<void>;
}

/**
 * Starts tracing when there is somewhere to send spans (an endpoint or an exporter); null
 * otherwise, and nothing is loaded. The OTLP exporter reads the rest of its settings as the SDK
 * documents them (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION, and their _TRACES_
 * forms), the provider its sampler (OTEL_TRACES_SAMPLER, _ARG) and the batch processor its
 * queue (OTEL_BSP_*); OTEL_RESOURCE_ATTRIBUTES adds to the resource.
 */
export async function startTelemetry(settings: TelemetrySettings): Promise<Telemetry | null> {
  if (!settings.exporter && !settings.tracesEndpoint) return null;
  if (telemetry.enabled) throw new Error('Telemetry is already started in this process');
  const [sdk, node, resources, otlp] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
    settings.exporter ? null : import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  const processor = settings.exporter
    ? new sdk.SimpleSpanProcessor(settings.exporter)
    : new sdk.BatchSpanProcessor(new otlp!.OTLPTraceExporter({ url: settings.tracesEndpoint }));
  const resource = resources
    .defaultResource()
    .merge(resources.detectResources({ detectors: [resources.envDetector] }))
    .merge(
      resources.resourceFromAttributes({ 'service.name': settings.serviceName ?? 'switchboard' }),
    );
  const { logger } = settings;
  if (logger) {
    const warn = (message: string) => logger.warn(`opentelemetry: ${message}`);
    const quiet = () => undefined;
    diag.setLogger(
      { error: warn, warn, info: quiet, debug: quiet, verbose: quiet },
      DiagLogLevel.WARN,
    );
  }
  const provider = new node.NodeTracerProvider({ resource, spanProcessors: [processor] });
  // The AsyncLocalStorage context manager and the W3C trace-context propagator.
  provider.register();
  state.tracer = provider.getTracer('switchboard');
  state.enabled = true;
  let stopped = false;
  return {
    async shutdown() {
      if (stopped) return;
      stopped = true;
      state.enabled = false;
      state.tracer = trace.getTracer('switchboard');
      try {
        await provider.shutdown();
      } finally {
        trace.disable();
        context.disable();
        propagation.disable();
        diag.disable();
      }
    },
  };
}

/**
 * A client span for one call to a dependency, child of the active span; null outside a traced
 * request (statements of migrations or of the hourly clean-up make no traces of their own).
 */
export function startClientSpan(name: string, attributes?: Attributes): Span | null {
  const parent = context.active();
  if (trace.getSpan(parent) === undefined) return null;
  return telemetry.tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
}

/** Ends `span` as failed, naming the kind of failure only (a message may carry values). */
export function endFailed(span: Span, errorType: string): void {
  span.setAttribute('error.type', errorType);
  span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

/** Runs `fn` in a client span named `name` (none outside a traced request). */
export async function inClientSpan<T>(
  name: string,
  attributes: Attributes,
  fn: () => Promise<T>,
  /** Errors that are an answer, not a failure (a rate limit's refusal). */
  isAnswer: (err: unknown) => boolean = () => false,
): Promise<T> {
  const span = startClientSpan(name, attributes);
  if (span === null) return fn();
  try {
    const result = await fn();
    span.end();
    return result;
  } catch (err) {
    if (isAnswer(err)) span.end();
    else endFailed(span, errorTypeOf(err));
    throw err;
  }
}

/** The error's code or class name: what kind of failure, never its message. */
export function errorTypeOf(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    if (err instanceof Error) return err.name;
  }
  return 'unknown';
}

/** Sets attributes on the active span (the GraphQL operation's, inside Apollo's hooks). */
export function annotateActiveSpan(attributes: Attributes): void {
  trace.getSpan(context.active())?.setAttributes(attributes);
}
