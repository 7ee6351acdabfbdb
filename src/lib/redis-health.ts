import type { Logger } from 'pino';
import type { Metrics } from '../metrics';

/**
 * Whether Redis answers. Shared limits (rate limits, cost budgets) fall back to in-process
 * counting while it does not: each instance then enforces its own share, which is looser across
 * instances but never unlimited and never refuses everyone. The switch both ways is logged once
 * and shown in /metrics (`switchboard_redis_fallback`).
 */
export class RedisHealth {
  private degraded = false;

  constructor(
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  failed(err: unknown): void {
    this.metrics.redisFallbacks.inc();
    if (this.degraded) return;
    this.degraded = true;
    this.metrics.redisFallback.set(1);
    this.logger.warn(
      { err: (err as Error)?.message ?? String(err) },
      'redis is not answering: limits are counted in-process until it is back',
    );
  }

  succeeded(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.metrics.redisFallback.set(0);
    this.logger.info('redis answers again: limits are shared across instances');
  }
}
