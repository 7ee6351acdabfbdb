import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Why a quota reservation was refused, by the error's code (bounded: anything else is `error`). */
const REFUSAL_BY_CODE = new Map<unknown, string>([
  ['QUOTA_EXCEEDED', 'quota_exceeded'],
  ['RATE_LIMITED', 'rate_limited'],
  ['SERVICE_UNAVAILABLE', 'unavailable'],
]);
const QUOTA_REFUSALS = [...REFUSAL_BY_CODE.values(), 'error'];

/** Prometheus metrics of one app (its own registry, so several apps can share a process). */
export class Metrics {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'switchboard_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly toolCalls = new Counter({
    name: 'switchboard_tool_calls_total',
    help: 'Tool calls that reached a tool, by tool and outcome',
    labelNames: ['tool', 'status'] as const,
    registers: [this.registry],
  });

  readonly toolTokens = new Counter({
    name: 'switchboard_tool_tokens_total',
    help: 'Tokens charged for tool calls, by tool',
    labelNames: ['tool'] as const,
    registers: [this.registry],
  });

  readonly redisFallback = new Gauge({
    name: 'switchboard_redis_fallback',
    help: '1 while Redis does not answer and limits are counted in-process, else 0',
    registers: [this.registry],
  });

  readonly redisFallbacks = new Counter({
    name: 'switchboard_redis_fallbacks_total',
    help: 'Limit checks counted in-process because Redis did not answer in time',
    registers: [this.registry],
  });

  readonly shed = new Counter({
    name: 'switchboard_requests_shed_total',
    help: 'Requests refused with SERVICE_UNAVAILABLE, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly dbStatements = new Counter({
    name: 'switchboard_db_statements_total',
    help: 'SQL statements sent to the database',
    registers: [this.registry],
  });

  readonly dbCoalescedCalls = new Histogram({
    name: 'switchboard_db_coalesced_calls',
    help: 'Calls of a kept function sent in one statement (concurrent requests coalesced)',
    buckets: [1, 2, 4, 8, 16, 32],
    registers: [this.registry],
  });

  readonly operationsCompiled = new Counter({
    name: 'switchboard_graphql_operations_compiled_total',
    help: 'GraphQL operations compiled to JavaScript (graphql-jit) after their first runs',
    registers: [this.registry],
  });

  readonly knownDocumentRequests = new Counter({
    name: 'switchboard_graphql_known_document_requests_total',
    help: 'GraphQL requests answered by the known-document lane (documents Apollo validated before)',
    registers: [this.registry],
  });

  readonly queryCost = new Histogram({
    name: 'switchboard_query_cost',
    help: 'Actual cost of executed GraphQL operations, in cost points',
    buckets: [1, 5, 10, 50, 100, 500, 1_000, 5_000, 20_000],
    registers: [this.registry],
  });

  readonly operationDuration = new Histogram({
    name: 'switchboard_graphql_operation_duration_seconds',
    help: 'GraphQL operation latency by type and operation (a configured name, anonymous, or other)',
    labelNames: ['type', 'operation'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly upstreamDuration = new Histogram({
    name: 'switchboard_upstream_call_duration_seconds',
    help: 'Upstream tool call latency (retries included) by tool and outcome (ok, error, timeout, refused)',
    labelNames: ['tool', 'outcome'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly breakerState = new Gauge({
    name: 'switchboard_upstream_breaker_state',
    help: "Each upstream tool's circuit breaker: 0 closed, 1 half-open, 2 open",
    labelNames: ['tool'] as const,
    registers: [this.registry],
  });

  readonly quotaReservations = new Counter({
    name: 'switchboard_quota_reservations_total',
    help: 'Quota reservations before tool calls: reserved, or refused by reason',
    labelNames: ['outcome', 'reason'] as const,
    registers: [this.registry],
  });

  /** Operation names that get a series of their own (METRICS_OPERATION_NAMES). */
  private readonly operationNames: ReadonlySet<string>;

  constructor(defaults = true, operationNames: readonly string[] = []) {
    this.operationNames = new Set(operationNames);
    this.redisFallback.set(0);
    // Zero series, so that a rate over them exists before the first event.
    this.quotaReservations.inc({ outcome: 'reserved' }, 0);
    for (const reason of QUOTA_REFUSALS)
      this.quotaReservations.inc({ outcome: 'refused', reason }, 0);
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'switchboard_' });
  }

  /**
   * One GraphQL operation's latency. Its name is the client's choice: only configured names get
   * a series of their own, every other named operation is `other` and an unnamed one
   * `anonymous`, so that random names cannot grow the label set.
   */
  observeOperation(type: string, name: string | null, seconds: number): void {
    const operation = name === null ? 'anonymous' : this.operationNames.has(name) ? name : 'other';
    this.operationDuration.observe({ type, operation }, seconds);
  }

  /** A quota reservation was made. */
  quotaReserved(): void {
    this.quotaReservations.inc({ outcome: 'reserved' });
  }

  /**
   * A quota reservation was refused with `err`: its reason is read from the error's code
   * (QUOTA_EXCEEDED, RATE_LIMITED, SERVICE_UNAVAILABLE), anything else is `error`.
   */
  quotaRefused(err: unknown): void {
    const code = (err as { extensions?: { code?: unknown } } | null)?.extensions?.code;
    const reason = REFUSAL_BY_CODE.get(code) ?? 'error';
    this.quotaReservations.inc({ outcome: 'refused', reason });
  }

  /**
   * Times every request and serves GET /metrics: with `token`, to a client presenting it as a
   * Bearer token; without, to loopback clients only (tool names and traffic are not public).
   */
  register(server: FastifyInstance, token?: string): void {
    server.addHook('onResponse', (request, reply, done) => {
      this.httpDuration.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      );
      done();
    });
    server.get('/metrics', async (request, reply) => {
      if (!mayRead(request, token)) {
        reply.code(token ? 401 : 403);
        if (token) reply.header('www-authenticate', 'Bearer');
        return {
          error: token
            ? 'metrics need the metrics token'
            : 'metrics are served to loopback clients only',
        };
      }
      reply.header('content-type', this.registry.contentType);
      return this.registry.metrics();
    });
  }
}

const digest = (value: string) => createHash('sha256').update(value).digest();

function mayRead(request: FastifyRequest, token: string | undefined): boolean {
  if (token) {
    const given = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
    return timingSafeEqual(digest(given), digest(token));
  }
  const ip = request.ip;
  return ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1';
}
