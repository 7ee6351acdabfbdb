import { loadConfig, type Config } from '../../src/config';

export const TEST_ADMIN = { email: 'admin@switchboard.test', password: 'admin-password-123' };

/** The configuration every test app starts from: the test database, a free port, quiet logs. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  const url = process.env.TEST_DATABASE_URL;
  if (!url)
    throw new Error('TEST_DATABASE_URL is not set: run the tests through jest (globalSetup)');
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: url,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    BCRYPT_COST: '10',
    // Two jest workers and their servers share two cores: a query can wait seconds for a CPU.
    // The deadline and the pool wait have tests of their own, with their own bounds.
    REQUEST_TIMEOUT_MS: '20000',
    DB_ACQUIRE_TIMEOUT_MS: '20000',
    // Fixtures register users many at a time; the hashing queue's bound has tests of its own.
    HASH_QUEUE_MAX: '10000',
    DB_POOL_MAX: '4',
    JWT_SECRET: 'test-secret-0123456789-abcdefghijklmnop',
    ADMIN_EMAIL: TEST_ADMIN.email,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    // Every test signs in from 127.0.0.1; the limits have tests of their own.
    AUTH_RATE_PER_MINUTE: '1000000',
    LOGIN_RATE_PER_EMAIL_PER_MINUTE: '1000000',
    // Every document runs compiled from its first run, so the suite holds the compiled path
    // (the interpreter is graphql-js's own; test/schema/compiled-execution.test.ts compares them).
    QUERY_COMPILE_AFTER: '0',
    ...(process.env.TEST_REDIS_URL ? { REDIS_URL: process.env.TEST_REDIS_URL } : {}),
  });
  // Two jest workers share two cores and build apps in-process: the event loop lags by whole
  // seconds at times, which would shed requests. Shedding has its own test.
  return { ...config, maxEventLoopDelayMs: 0, ...overrides };
}
