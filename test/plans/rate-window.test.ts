import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { RateLimiter } from '../../src/lib/rate-limit';

const redisUrl = process.env.TEST_REDIS_URL;
const itRedis = redisUrl ? it : it.skip; // skipped without TEST_REDIS_URL (CI sets it)

const WINDOW_MS = 1_000;
const LIMIT = 5;
const sleepUntil = (at: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));

/**
 * The request rates (src/lib/rate-limit.ts) count over a sliding window: never more than the
 * limit in any window, where a fixed window reset from its first request let a caller take the
 * limit just before the reset and again just after. Played on a 1 s window (the product's is a
 * minute), in-process and through Redis.
 */
async function expectSlidingWindow(limiter: RateLimiter) {
  const key = randomUUID();
  const taken: number[] = [];
  const refused: number[] = [];
  const attempt = async () => {
    const at = performance.now();
    try {
      await limiter.consume('test', key, LIMIT);
      taken.push(at);
    } catch (err) {
      expect((err as { extensions: { code: string } }).extensions.code).toBe('RATE_LIMITED');
      refused.push((err as { extensions: { retryAfter: number } }).extensions.retryAfter);
    }
  };
  const t0 = performance.now();
  await attempt(); // opens the window
  await sleepUntil(t0 + 700);
  for (let i = 0; i < LIMIT; i += 1) await attempt(); // 4 taken, the 5th refused
  expect(taken).toHaveLength(LIMIT);
  expect(refused).toEqual([1]);
  await sleepUntil(t0 + 1_150);
  // A fixed window would have reset at t0 + 1 s and taken all five again; in the last second
  // there are already 4, so one more fits.
  for (let i = 0; i < LIMIT; i += 1) await attempt();
  expect(taken).toHaveLength(LIMIT + 1);
  // Any window of 1 s holds at most LIMIT of the requests taken.
  for (const start of taken) {
    expect(taken.filter((at) => at >= start && at < start + WINDOW_MS).length).toBeLessThanOrEqual(
      LIMIT,
    );
  }
  // The refusals' retryAfter is true: once the oldest in the window leaves it, one is taken.
  await sleepUntil(t0 + 1_750);
  const before = taken.length;
  await attempt();
  expect(taken.length).toBe(before + 1);
}

describe('request rates: a sliding window', () => {
  it('never takes more than the limit in any window, in-process', async () => {
    await expectSlidingWindow(new RateLimiter(null, null, WINDOW_MS));
  });

  itRedis('never takes more than the limit in any window, through Redis', async () => {
    const redis = new Redis(redisUrl!, { maxRetriesPerRequest: 1 });
    try {
      await expectSlidingWindow(new RateLimiter(redis, null, WINDOW_MS));
    } finally {
      redis.disconnect();
    }
  });

  itRedis('counts one log for every instance sharing Redis', async () => {
    const a = new Redis(redisUrl!, { maxRetriesPerRequest: 1 });
    const b = new Redis(redisUrl!, { maxRetriesPerRequest: 1 });
    try {
      const limiters = [new RateLimiter(a, null, WINDOW_MS), new RateLimiter(b, null, WINDOW_MS)];
      const key = randomUUID();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => limiters[i % 2]!.consume('shared', key, LIMIT)),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(LIMIT);
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });
});
