import type { Attributes } from '@opentelemetry/api';
import Redis from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config';

/**
 * The Redis client of shared limits, or null without REDIS_URL. Waits up to 2 s for it to be
 * ready, then starts anyway: limits count in-process until Redis answers (RedisHealth).
 */
export async function connectRedis(config: Config, logger: Logger): Promise<Redis | null> {
  if (!config.redisUrl) return null;
  const redis = new Redis(config.redisUrl, {
    lazyConnect: false,
    // A limit check never waits on Redis for long: past this it counts in-process.
    commandTimeout: config.redisCommandTimeoutMs,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  // Reconnection errors repeat while Redis is away; RedisHealth logs the switch once.
  redis.on('error', (err) => logger.debug({ err: err.message }, 'redis error'));
  if (redis.status !== 'ready') {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        redis.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, 2_000);
      redis.once('ready', done);
    });
  }
  return redis;
}

/** What a span of a call to `redis` says about it: the system and the server, never a key. */
export function redisSpanAttributes(redis: Redis): Attributes {
  return {
    'db.system': 'redis',
    'server.address': redis.options.host,
    'server.port': redis.options.port,
  };
}
