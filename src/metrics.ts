import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

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

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'switchboard_' });
  }

  /** Times every request and serves GET /metrics. */
  register(server: FastifyInstance): void {
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
    server.get('/metrics', async (_request, reply) => {
      reply.header('content-type', this.registry.contentType);
      return this.registry.metrics();
    });
  }
}
