import type Redis from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { RateLimitedError } from '../errors';

/**
 * Requests per minute per user, one limiter per plan rate. With Redis the budget is shared by
 * every server process; if Redis fails, an in-process limiter takes over rather than letting
 * calls through unmetered or refusing them all.
 */
export class InvokeRateLimiter {
  private readonly limiters = new Map<number, RateLimiterAbstract>();

  constructor(private readonly redis: Redis | null) {}

  private limiter(perMinute: number): RateLimiterAbstract {
    let limiter = this.limiters.get(perMinute);
    if (!limiter) {
      const options = { points: perMinute, duration: 60, keyPrefix: `sb:rl:invoke:${perMinute}` };
      limiter = this.redis
        ? new RateLimiterRedis({
            ...options,
            storeClient: this.redis,
            insuranceLimiter: new RateLimiterMemory(options),
          })
        : new RateLimiterMemory(options);
      this.limiters.set(perMinute, limiter);
    }
    return limiter;
  }

  /** Takes one request from `userId`'s budget, or throws RATE_LIMITED with retryAfter. */
  async consume(userId: string, perMinute: number): Promise<void> {
    try {
      await this.limiter(perMinute).consume(userId, 1);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        throw new RateLimitedError(Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
      }
      throw err;
    }
  }
}
