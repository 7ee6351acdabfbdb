import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { RateLimitedError } from '../errors';
import { inClientSpan, telemetry } from '../telemetry';
import { redisSpanAttributes } from './redis-client';
import type { RedisHealth } from './redis-health';

/** The window every limit counts over. */
const MINUTE_MS = 60_000;

/**
 * A sliding window log: the times of the requests taken in the last `window` ms, in a sorted set.
 * A request is taken while fewer than `limit` are in the window; a refused one is not recorded.
 * Returns {1, 0} when taken, or {0, ms until the oldest leaves the window}. Time is Redis's own
 * clock, so every instance agrees.
 */
const TAKE_SCRIPT = `
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, math.max(1, tonumber(oldest[2]) + window - now)}
`;

/** The most keys one instance tracks in-process; the longest untouched are forgotten first. */
const MAX_LOCAL_KEYS = 50_000;

/**
 * Requests per minute per key, in named buckets (`invoke` per user at the plan's rate, `auth`
 * per client address, `login` per email, `refresh` per client address, `password` per user),
 * counted over a sliding minute: never more than the limit in any 60 seconds. (A fixed window,
 * reset each minute from its first request, let a caller take the limit at the end of one
 * window and again at the start of the next: twice the plan's rate within a few seconds.) With
 * Redis every server process shares the count; when Redis does not answer within its command
 * timeout, an in-process count takes over (logged and counted by RedisHealth) rather than
 * letting requests through unmetered or refusing them all.
 */
export class RateLimiter {
  /** In-process logs by bucket and key: request times (performance.now()), oldest first. */
  private readonly local = new Map<string, number[]>();
  /** Makes each shared log entry unique: two requests in the same millisecond both count. */
  private readonly instance = randomBytes(6).toString('base64url');
  private sequence = 0;

  constructor(
    private readonly redis: Redis | null,
    private readonly health: RedisHealth | null = null,
    /** The window, in ms (a minute; tests shorten it). */
    private readonly windowMs = MINUTE_MS,
  ) {
    redis?.defineCommand('sbRateTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  }

  /** Takes one request from `key`'s budget in `bucket`, or throws RATE_LIMITED with retryAfter. */
  async consume(bucket: string, key: string, perMinute: number): Promise<void> {
    const id = `${bucket}:${key}`;
    const waitMs = this.redis
      ? await this.takeShared(this.redis, bucket, id, perMinute)
      : this.takeLocally(id, perMinute);
    if (waitMs > 0) throw new RateLimitedError(Math.max(1, Math.ceil(waitMs / 1000)));
  }

  /** Through Redis, shared by every instance; in-process while Redis does not answer. */
  private async takeShared(redis: Redis, bucket: string, id: string, limit: number) {
    this.sequence = (this.sequence + 1) % 1_000_000_000;
    const take = () =>
      (
        redis as unknown as {
          sbRateTake(key: string, ...args: (string | number)[]): Promise<[number, number]>;
        }
      ).sbRateTake(`sb:rl2:${id}`, this.windowMs, limit, `${this.instance}:${this.sequence}`);
    try {
      const [taken, waitMs] = await (telemetry.enabled
        ? inClientSpan(
            'redis rate-limit',
            { ...redisSpanAttributes(redis), 'switchboard.rate_limit.bucket': bucket },
            take,
          )
        : take());
      this.health?.succeeded();
      return taken === 1 ? 0 : waitMs;
    } catch (err) {
      this.health?.failed(err);
    }
    return this.takeLocally(id, limit);
  }

  /** 0 when taken; otherwise ms until the oldest request in the window leaves it. */
  private takeLocally(id: string, limit: number): number {
    const now = performance.now();
    const since = now - this.windowMs;
    let log = this.local.get(id);
    if (log) {
      let expired = 0;
      while (expired < log.length && log[expired]! <= since) expired += 1;
      if (expired > 0) log.splice(0, expired);
      // Delete then set below: the map's order stays least recently used first.
      this.local.delete(id);
    } else {
      log = [];
    }
    let waitMs = 0;
    if (log.length < limit) log.push(now);
    else waitMs = Math.max(1, log[0]! + this.windowMs - now);
    if (log.length > 0) {
      if (this.local.size >= MAX_LOCAL_KEYS) this.forgetOldest();
      this.local.set(id, log);
    }
    return waitMs;
  }

  private forgetOldest(): void {
    // The first entries are the longest untouched.
    let drop = Math.ceil(MAX_LOCAL_KEYS / 10);
    for (const id of this.local.keys()) {
      this.local.delete(id);
      drop -= 1;
      if (drop === 0) break;
    }
  }
}
