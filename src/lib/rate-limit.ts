import type Redis from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { RateLimitedError } from '../errors';

/**
 * Requests per minute per key, in named buckets (`invoke` per user at the plan's rate, `auth`
 * per client address, `login` per email). With Redis every server process shares the budget;
 * if Redis fails, an in-process limiter takes over rather than letting requests through
 * unmetered or refusing them all.
 */
export class RateLimiter {
  private readonly limiters = new Map<string, RateLimiterAbstract>();

  constructor(private readonly redis: Redis | null) {}

  private limiter(bucket: string, perMinute: number): RateLimiterAbstract {
    const id = `${bucket}:${perMinute}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      const options = { points: perMinute, duration: 60, keyPrefix: `sb:rl:${id}` };
      limiter = this.redis
        ? new RateLimiterRedis({
            ...options,
            storeClient: this.redis,
            insuranceLimiter: new RateLimiterMemory(options),
          })
        : new RateLimiterMemory(options);
      this.limiters.set(id, limiter);
    }
    return limiter;
  }

  /** Takes one request from `key`'s budget in `bucket`, or throws RATE_LIMITED with retryAfter. */
  async consume(bucket: string, key: string, perMinute: number): Promise<void> {
    try {
      await this.limiter(bucket, perMinute).consume(key, 1);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        throw new RateLimitedError(Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
      }
      throw err;
    }
  }
}
