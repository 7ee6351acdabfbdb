import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

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

  readonly queryCost = new Histogram({
    name: 'switchboard_query_cost',
    help: 'Actual cost of executed GraphQL operations, in cost points',
    buckets: [1, 5, 10, 50, 100, 500, 1_000, 5_000, 20_000],
    registers: [this.registry],
  });

  constructor(defaults = true) {
    this.redisFallback.set(0);
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'switchboard_' });
  }

  /**
   * Times every request and serves GET /metrics: with `token`, to a client presenting it as a
   * Bearer token; without, to loopback clients only (tool names and traffic are not public).
   */
  register(server: FastifyInstance, token?: string): void {
    server.addHook('onResponse', async (request, reply) => {
      this.httpDuration.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      );
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
