import type Redis from 'ioredis';
import { inClientSpan, telemetry } from '../telemetry';
import { redisSpanAttributes } from './redis-client';
import type { RedisHealth } from './redis-health';

export interface BucketSettings {
  /** Points a full bucket holds (maximumAvailable). */
  capacity: number;
  /** Points restored a second (restoreRate). */
  restoreRate: number;
}

export interface Take {
  ok: boolean;
  /** Points left after the take (or, when refused, what there was). */
  available: number;
  /** When refused: whole seconds until the bucket holds the points asked for. */
  retryAfter: number;
}

/**
 * Refills continuously, takes `cost` if it has it (a negative cost gives points back, up to the
 * capacity). Time is Redis's own clock, so every instance agrees. Returns {ok, available*1000}.
 */
const TAKE_SCRIPT = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local v = redis.call('HMGET', KEYS[1], 'p', 't')
local points = tonumber(v[1])
local ts = tonumber(v[2])
if points == nil then points = capacity; ts = now end
points = math.min(capacity, points + math.max(0, now - ts) * rate / 1000)
local ok = 0
if cost <= points then
  points = math.min(capacity, points - cost)
  ok = 1
end
redis.call('HSET', KEYS[1], 'p', tostring(points), 't', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {ok, math.floor(points * 1000)}
`;

interface LocalBucket {
  points: number;
  at: number;
}

/** The most callers one instance tracks in-process; full buckets are forgotten first. */
const MAX_LOCAL_BUCKETS = 50_000;

/**
 * Cost points per caller (a user, an API key, or an address when anonymous), in a bucket that
 * refills continuously, as Shopify's GraphQL Admin API meters queries. With Redis the buckets
 * are shared by every instance; when Redis does not answer, each instance counts in-process.
 */
export class CostBudget {
  private readonly local = new Map<string, LocalBucket>();

  constructor(
    readonly settings: BucketSettings,
    private readonly redis: Redis | null,
    private readonly health: RedisHealth | null,
  ) {
    redis?.defineCommand('sbCostTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  }

  /**
   * Takes `cost` points from `caller`'s bucket, or refuses with how long to wait; at once (no
   * promise) when the buckets are in-process.
   */
  take(caller: string, cost: number): Take | Promise<Take> {
    const redis = this.redis;
    if (!redis) return this.toTake(cost, this.applyLocally(caller, cost));
    return this.applyShared(redis, caller, cost).then((applied) => this.toTake(cost, applied));
  }

  /** Gives back points taken for a request that cost less than it asked for; what is left. */
  refund(caller: string, points: number): number | Promise<number> {
    const redis = this.redis;
    if (!redis) return this.applyLocally(caller, -points).points;
    return this.applyShared(redis, caller, -points).then((applied) => applied.points);
  }

  private toTake(cost: number, applied: { ok: boolean; points: number }): Take {
    if (applied.ok) return { ok: true, available: applied.points, retryAfter: 0 };
    return {
      ok: false,
      available: applied.points,
      retryAfter: Math.max(1, Math.ceil((cost - applied.points) / this.settings.restoreRate)),
    };
  }

  /** Through Redis, shared by every instance; in-process while Redis does not answer. */
  private async applyShared(
    redis: Redis,
    caller: string,
    cost: number,
  ): Promise<{ ok: boolean; points: number }> {
    const take = () =>
      (
        redis as unknown as {
          sbCostTake(key: string, ...args: number[]): Promise<[number, number]>;
        }
      ).sbCostTake(`sb:cost:${caller}`, this.settings.capacity, this.settings.restoreRate, cost);
    try {
      const [ok, milli] = await (telemetry.enabled
        ? inClientSpan('redis cost-budget', redisSpanAttributes(redis), take)
        : take());
      this.health?.succeeded();
      return { ok: ok === 1, points: Math.floor(milli / 1000) };
    } catch (err) {
      this.health?.failed(err);
    }
    return this.applyLocally(caller, cost);
  }

  private applyLocally(caller: string, cost: number): { ok: boolean; points: number } {
    const { capacity, restoreRate } = this.settings;
    const now = performance.now();
    const bucket = this.local.get(caller);
    let points = bucket
      ? Math.min(capacity, bucket.points + ((now - bucket.at) * restoreRate) / 1000)
      : capacity;
    const ok = cost <= points;
    if (ok) points = Math.min(capacity, points - cost);
    // Delete then set: the map's order stays least recently used first.
    this.local.delete(caller);
    if (points < capacity) {
      // (A full bucket is the default: nothing to remember.)
      if (this.local.size >= MAX_LOCAL_BUCKETS) this.forgetOldest();
      this.local.set(caller, { points, at: now });
    }
    return { ok, points: Math.floor(points) };
  }

  private forgetOldest(): void {
    // The first entries are the longest untouched.
    let n = Math.ceil(MAX_LOCAL_BUCKETS / 10);
    for (const key of this.local.keys()) {
      this.local.delete(key);
      if ((n -= 1) === 0) break;
    }
  }
}
