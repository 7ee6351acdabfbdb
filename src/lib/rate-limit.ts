import type Redis from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { RateLimitedError } from '../errors';
import { inClientSpan, telemetry } from '../telemetry';
import { redisSpanAttributes } from './redis-client';
import type { RedisHealth } from './redis-health';

interface Limiter {
  shared: RateLimiterAbstract | null;
  local: RateLimiterMemory;
}

/**
 * Requests per minute per key, in named buckets (`invoke` per user at the plan's rate, `auth`
 * per client address, `login` per email, `refresh` per client address). With Redis every server
 * process shares the budget; when Redis does not answer within its command timeout, an
 * in-process limiter takes over (logged and counted by RedisHealth) rather than letting
 * requests through unmetered or refusing them all.
 */
export class RateLimiter {
  private readonly limiters = new Map<string, Limiter>();

  constructor(
    private readonly redis: Redis | null,
    private readonly health: RedisHealth | null = null,
  ) {}

  private limiter(bucket: string, perMinute: number): Limiter {
    const id = `${bucket}:${perMinute}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      const options = { points: perMinute, duration: 60, keyPrefix: `sb:rl:${id}` };
      limiter = {
        shared: this.redis ? new RateLimiterRedis({ ...options, storeClient: this.redis }) : null,
        local: new RateLimiterMemory(options),
      };
      this.limiters.set(id, limiter);
    }
    return limiter;
  }

  /** Takes one request from `key`'s budget in `bucket`, or throws RATE_LIMITED with retryAfter. */
  async consume(bucket: string, key: string, perMinute: number): Promise<void> {
    const { shared, local } = this.limiter(bucket, perMinute);
    try {
      if (shared) {
        try {
          await (telemetry.enabled
            ? inClientSpan(
                'redis rate-limit',
                { ...redisSpanAttributes(this.redis!), 'switchboard.rate_limit.bucket': bucket },
                () => shared.consume(key, 1),
                (err) => err instanceof RateLimiterRes,
              )
            : shared.consume(key, 1));
          this.health?.succeeded();
          return;
        } catch (err) {
          if (err instanceof RateLimiterRes) throw err;
          this.health?.failed(err);
        }
      }
      await local.consume(key, 1);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        throw new RateLimitedError(Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
      }
      throw err;
    }
  }
}
