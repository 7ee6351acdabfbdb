import { availableParallelism } from 'node:os';
import { bool, cleanEnv, makeValidator, str, url } from 'envalid';
import { normalizeEmail } from './lib/text';

/** A whole number within [min, max]; envalid's `num` accepts fractions and any range. */
const intRange = (min: number, max: number) =>
  makeValidator<number>((input) => {
    const value = Number(input);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`must be a whole number from ${min} to ${max}`);
    }
    return value;
  });

const list = makeValidator<string[]>((input) =>
  input
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean),
);

/**
 * Which proxies' X-Forwarded-For to believe: `false` (none: the client is the peer), `true`
 * (every hop: the leftmost address, which the client writes itself unless every proxy in front
 * overwrites the header), a number of hops (the address that many hops back from the peer: the
 * one the nearest proxy appended), or a comma-separated list of proxy addresses and CIDR ranges
 * (the rightmost address not among them). As Fastify (proxy-addr) reads each.
 */
const trustProxy = makeValidator<boolean | number | string[]>((input) => {
  const value = input.trim().toLowerCase();
  if (['true', 't', 'yes', 'on'].includes(value)) return true;
  if (['false', 'f', 'no', 'off', '', '0'].includes(value)) return false;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > 32) throw new Error('a number of hops must be at most 32');
    return hops;
  }
  const parts = value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  const address = /^(?:[0-9.]+|[0-9a-f:.]+)(?:\/\d{1,3})?$|^(?:loopback|linklocal|uniquelocal)$/;
  const bad = parts.find((part) => !address.test(part));
  if (bad !== undefined) {
    throw new Error(
      `"${bad}" is not an address, a CIDR range or loopback/linklocal/uniquelocal (or use true, false, a number of hops)`,
    );
  }
  return parts;
});

const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;
/** Each name is a label value in /metrics: a bound on the series it can add. */
const MAX_METRICS_OPERATION_NAMES = 200;

const DEV_JWT_SECRET = 'switchboard-development-secret-change-me-0123456789';

export interface Config {
  nodeEnv: 'development' | 'test' | 'production';
  isProduction: boolean;
  host: string;
  port: number;
  logLevel: string;
  /** auto: readable lines in a terminal outside production, JSON otherwise. */
  logFormat: 'auto' | 'json' | 'pretty';
  databaseUrl: string | undefined;
  dataDir: string;
  dbPoolMax: number;
  /** How long a pooled connection may sit unused before it is closed. */
  dbPoolIdleTimeoutMs: number;
  /** At start, open the pool's connections and run the hot read path's functions on each. */
  dbPoolWarm: boolean;
  /** Calls of the hot kept functions by concurrent requests go to the database together. */
  dbCoalesce: boolean;
  jwtSecret: string;
  jwtIssuer: string;
  jwtAudience: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlDays: number;
  bcryptCost: number;
  /** Worker threads that hash passwords (never the event loop). */
  hashWorkers: number;
  /** Hashes waiting for a worker; past it sign-ins answer RATE_LIMITED at once. */
  hashQueueMax: number;
  adminEmail: string;
  adminPassword: string | undefined;
  corsOrigins: string[];
  /** X-Forwarded-For: believed from no proxy, every hop, this many hops, or these proxies. */
  trustProxy: boolean | number | string[];
  introspection: boolean;
  ide: boolean;
  bodyLimitBytes: number;
  queryMaxDepth: number;
  queryMaxCost: number;
  queryMaxAliases: number;
  queryMaxTokens: number;
  /** Documents that have run before are executed compiled (graphql-jit), not interpreted. */
  queryCompile: boolean;
  /** Runs of a document on graphql-js's interpreter before it is compiled (0: at once). */
  queryCompileAfter: number;
  /**
   * A POST whose document Apollo has validated before runs without Apollo's per-request
   * pipeline, with the same plugins, executor and answers (http/known-documents.ts).
   */
  queryKnownDocuments: boolean;
  redisUrl: string | undefined;
  toolTimeoutMs: number;
  toolRetries: number;
  toolRetryBaseMs: number;
  toolBreakerFailures: number;
  toolBreakerResetMs: number;
  toolHostAllowlist: string[];
  /** Whether tool endpoints may be loopback, private or link-local addresses (not in production). */
  toolAllowPrivateNetworks: boolean;
  shutdownTimeoutMs: number;
  /** Apply pending migrations at start (off when a release step runs `npm run migrate`). */
  migrateOnStart: boolean;
  authRatePerMinute: number;
  /** refreshToken exchanges a minute per client address (a budget of their own). */
  refreshRatePerMinute: number;
  /** The most a request may spend on the database (pool wait and queries) before it answers SERVICE_UNAVAILABLE. */
  requestTimeoutMs: number;
  /** The longest a client may take to send a whole request, headers and body (408 past it). */
  httpRequestTimeoutMs: number;
  /** The longest wait for a pooled connection. */
  dbAcquireTimeoutMs: number;
  /** The longest wait for a new connection to be established. */
  dbConnectTimeoutMs: number;
  /** Server-side timeouts, set on the database (or role) at start, never in the startup packet. */
  dbStatementTimeoutMs: number;
  dbLockTimeoutMs: number;
  dbIdleInTransactionTimeoutMs: number;
  /** Every Redis command's timeout; past it the limits count in-process. */
  redisCommandTimeoutMs: number;
  /** Query cost budget per caller: bucket size and points restored a second. */
  costBucketSize: number;
  costRestoreRate: number;
  /** Event-loop delay past which new requests are shed with SERVICE_UNAVAILABLE (0 = never). */
  maxEventLoopDelayMs: number;
  /** Sends Strict-Transport-Security (only behind HTTPS). */
  hsts: boolean;
  /** Serves the SDL at GET /graphql/schema.graphql (in production too). */
  publishSchema: boolean;
  loginRatePerEmailPerMinute: number;
  /** Bearer token for GET /metrics; unset: only loopback clients may read it. */
  metricsToken: string | undefined;
  /** Operation names that get series of their own in /metrics; any other name is `other`. */
  metricsOperationNames: string[];
  /** Where traces are sent (OTLP/HTTP): unset, telemetry is off and costs nothing. */
  otelTracesEndpoint: string | undefined;
  /** service.name of the traces. */
  otelServiceName: string;
}

/** Every environment variable the server reads, with its validator and default. */
function envSpec() {
  return {
    NODE_ENV: str({ choices: ['development', 'test', 'production'], default: 'development' }),
    HOST: str({ default: 'localhost' }),
    PORT: intRange(0, 65_535)({ default: 4000 }),
    LOG_LEVEL: str({
      choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
    }),
    LOG_FORMAT: str({ choices: ['auto', 'json', 'pretty'], default: 'auto' }),
    DATABASE_URL: url({ default: undefined }),
    DATA_DIR: str({ default: './.data' }),
    DB_POOL_MAX: intRange(2, 100)({ default: 10 }),
    DB_POOL_IDLE_TIMEOUT_MS: intRange(1_000, 86_400_000)({ default: 300_000 }),
    DB_POOL_WARM: bool({ default: true }),
    DB_COALESCE: bool({ default: true }),
    JWT_SECRET: str({ default: undefined }),
    JWT_ISSUER: str({ default: 'switchboard' }),
    JWT_AUDIENCE: str({ default: 'switchboard-api' }),
    ACCESS_TOKEN_TTL_SECONDS: intRange(30, 86_400)({ default: 900 }),
    REFRESH_TOKEN_TTL_DAYS: intRange(1, 365)({ default: 30 }),
    BCRYPT_COST: intRange(10, 15)({ default: 11 }),
    HASH_WORKERS: intRange(1, 64)({ default: Math.max(1, availableParallelism() - 1) }),
    HASH_QUEUE_MAX: intRange(0, 10_000)({ default: 16 }),
    ADMIN_EMAIL: str({ default: 'admin@switchboard.local' }),
    ADMIN_PASSWORD: str({ default: undefined }),
    CORS_ORIGINS: list({ default: [] }),
    TRUST_PROXY: trustProxy({ default: false }),
    INTROSPECTION: bool({ default: undefined }),
    BODY_LIMIT_BYTES: intRange(1_024, 10_485_760)({ default: 262_144 }),
    QUERY_MAX_DEPTH: intRange(2, 50)({ default: 8 }),
    QUERY_MAX_COST: intRange(10, 1_000_000)({ default: 20_000 }),
    QUERY_MAX_ALIASES: intRange(1, 1_000)({ default: 30 }),
    QUERY_MAX_TOKENS: intRange(100, 100_000)({ default: 2_000 }),
    QUERY_COMPILE: bool({ default: true }),
    QUERY_COMPILE_AFTER: intRange(0, 1_000_000)({ default: 10 }),
    QUERY_KNOWN_DOCUMENTS: bool({ default: true }),
    REDIS_URL: url({ default: undefined }),
    TOOL_TIMEOUT_MS: intRange(100, 600_000)({ default: 10_000 }),
    TOOL_RETRIES: intRange(0, 5)({ default: 2 }),
    TOOL_RETRY_BASE_MS: intRange(1, 10_000)({ default: 200 }),
    TOOL_BREAKER_FAILURES: intRange(1, 1_000)({ default: 5 }),
    TOOL_BREAKER_RESET_MS: intRange(100, 3_600_000)({ default: 30_000 }),
    TOOL_HOST_ALLOWLIST: list({ default: [] }),
    TOOL_ALLOW_PRIVATE_NETWORKS: bool({ default: undefined }),
    SHUTDOWN_TIMEOUT_MS: intRange(100, 120_000)({ default: 10_000 }),
    MIGRATE_ON_START: bool({ default: true }),
    AUTH_RATE_PER_MINUTE: intRange(1, 1_000_000)({ default: 30 }),
    LOGIN_RATE_PER_EMAIL_PER_MINUTE: intRange(1, 1_000_000)({ default: 10 }),
    REFRESH_RATE_PER_MINUTE: intRange(1, 1_000_000)({ default: 600 }),
    REQUEST_TIMEOUT_MS: intRange(100, 120_000)({ default: 4_000 }),
    HTTP_REQUEST_TIMEOUT_MS: intRange(1_000, 600_000)({ default: 30_000 }),
    DB_ACQUIRE_TIMEOUT_MS: intRange(50, 120_000)({ default: 2_000 }),
    DB_CONNECT_TIMEOUT_MS: intRange(100, 120_000)({ default: 3_000 }),
    DB_STATEMENT_TIMEOUT_MS: intRange(0, 3_600_000)({ default: 5_000 }),
    DB_LOCK_TIMEOUT_MS: intRange(0, 3_600_000)({ default: 3_000 }),
    DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: intRange(0, 3_600_000)({ default: 30_000 }),
    REDIS_COMMAND_TIMEOUT_MS: intRange(10, 60_000)({ default: 100 }),
    QUERY_COST_BUCKET: intRange(10, 100_000_000)({ default: undefined }),
    QUERY_COST_RESTORE_RATE: intRange(1, 100_000_000)({ default: 2_000 }),
    MAX_EVENT_LOOP_DELAY_MS: intRange(0, 60_000)({ default: 1_000 }),
    HSTS: bool({ default: false }),
    PUBLISH_SCHEMA: bool({ default: true }),
    METRICS_TOKEN: str({ default: undefined }),
    METRICS_OPERATION_NAMES: list({ default: [] }),
    // The OpenTelemetry SDK's own variables: the base endpoint gets /v1/traces, the traces one
    // is used as it is. Headers, timeout, sampler etc. are read by the SDK (src/telemetry.ts).
    OTEL_EXPORTER_OTLP_ENDPOINT: url({ default: undefined }),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url({ default: undefined }),
    OTEL_SERVICE_NAME: str({ default: 'switchboard' }),
  };
}

/** The names of every variable the server reads (for .env.example and compose checks). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSpec());

/**
 * Reads and validates the environment once. Throws an Error whose message names every bad
 * variable, so `main` can print it and stop before anything listens.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  // An empty value means unset (`KEY=` in a copied .env.example, or in compose's env_file).
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const e = cleanEnv(given, envSpec(), {
    reporter: ({ errors }) => {
      for (const [name, err] of Object.entries(errors)) {
        problems.push(`${name}: ${err?.message ?? 'invalid'}`);
      }
    },
  });

  // A variable that failed its own validation must not be read below: stop here, naming them.
  if (problems.length > 0) throw new Error(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  const isProduction = e.NODE_ENV === 'production';
  let jwtSecret = e.JWT_SECRET;
  if (isProduction) {
    if (!jwtSecret) problems.push('JWT_SECRET: required in production');
    else if (jwtSecret.length < 32 || new Set(jwtSecret).size < 10) {
      problems.push('JWT_SECRET: too weak for production (at least 32 varied characters)');
    }
  } else if (jwtSecret && jwtSecret.length < 16) {
    problems.push('JWT_SECRET: at least 16 characters');
  }
  if (
    e.ADMIN_PASSWORD !== undefined &&
    (e.ADMIN_PASSWORD.length < 8 || e.ADMIN_PASSWORD.length > 128)
  ) {
    problems.push('ADMIN_PASSWORD: 8 to 128 characters');
  }
  if (e.DATABASE_URL && !/^postgres(ql)?:\/\//.test(e.DATABASE_URL)) {
    problems.push('DATABASE_URL: must be a postgres:// or postgresql:// URL');
  }
  if (e.METRICS_TOKEN && e.METRICS_TOKEN.length < 16) {
    problems.push('METRICS_TOKEN: at least 16 characters');
  }
  if (e.METRICS_OPERATION_NAMES.length > MAX_METRICS_OPERATION_NAMES) {
    problems.push(`METRICS_OPERATION_NAMES: at most ${MAX_METRICS_OPERATION_NAMES} names`);
  } else if (e.METRICS_OPERATION_NAMES.some((name) => !GRAPHQL_NAME.test(name))) {
    problems.push('METRICS_OPERATION_NAMES: GraphQL operation names, comma-separated');
  }
  // (Cross-checks only between values that passed their own validation.)
  if (
    problems.length === 0 &&
    e.QUERY_COST_BUCKET !== undefined &&
    e.QUERY_COST_BUCKET < e.QUERY_MAX_COST
  ) {
    problems.push('QUERY_COST_BUCKET: must hold at least QUERY_MAX_COST, or no document could run');
  }
  if (problems.length > 0) {
    throw new Error(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  jwtSecret ??= DEV_JWT_SECRET;

  return {
    nodeEnv: e.NODE_ENV as Config['nodeEnv'],
    isProduction,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT as Config['logFormat'],
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    dbPoolMax: e.DB_POOL_MAX,
    dbPoolIdleTimeoutMs: e.DB_POOL_IDLE_TIMEOUT_MS,
    dbPoolWarm: e.DB_POOL_WARM,
    dbCoalesce: e.DB_COALESCE,
    jwtSecret,
    jwtIssuer: e.JWT_ISSUER,
    jwtAudience: e.JWT_AUDIENCE,
    accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlDays: e.REFRESH_TOKEN_TTL_DAYS,
    bcryptCost: e.BCRYPT_COST,
    hashWorkers: e.HASH_WORKERS,
    hashQueueMax: e.HASH_QUEUE_MAX,
    adminEmail: normalizeEmail(e.ADMIN_EMAIL),
    adminPassword: e.ADMIN_PASSWORD,
    corsOrigins: e.CORS_ORIGINS,
    trustProxy: e.TRUST_PROXY,
    introspection: e.INTROSPECTION ?? !isProduction,
    ide: !isProduction,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    queryMaxDepth: e.QUERY_MAX_DEPTH,
    queryMaxCost: e.QUERY_MAX_COST,
    queryMaxAliases: e.QUERY_MAX_ALIASES,
    queryMaxTokens: e.QUERY_MAX_TOKENS,
    queryCompile: e.QUERY_COMPILE,
    queryCompileAfter: e.QUERY_COMPILE_AFTER,
    queryKnownDocuments: e.QUERY_KNOWN_DOCUMENTS,
    redisUrl: e.REDIS_URL,
    toolTimeoutMs: e.TOOL_TIMEOUT_MS,
    toolRetries: e.TOOL_RETRIES,
    toolRetryBaseMs: e.TOOL_RETRY_BASE_MS,
    toolBreakerFailures: e.TOOL_BREAKER_FAILURES,
    toolBreakerResetMs: e.TOOL_BREAKER_RESET_MS,
    toolHostAllowlist: e.TOOL_HOST_ALLOWLIST.map((h) => h.toLowerCase()),
    toolAllowPrivateNetworks: e.TOOL_ALLOW_PRIVATE_NETWORKS ?? !isProduction,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    migrateOnStart: e.MIGRATE_ON_START,
    authRatePerMinute: e.AUTH_RATE_PER_MINUTE,
    loginRatePerEmailPerMinute: e.LOGIN_RATE_PER_EMAIL_PER_MINUTE,
    refreshRatePerMinute: e.REFRESH_RATE_PER_MINUTE,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    httpRequestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
    dbAcquireTimeoutMs: e.DB_ACQUIRE_TIMEOUT_MS,
    dbConnectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
    dbStatementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
    dbLockTimeoutMs: e.DB_LOCK_TIMEOUT_MS,
    dbIdleInTransactionTimeoutMs: e.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    costBucketSize: e.QUERY_COST_BUCKET ?? 2 * e.QUERY_MAX_COST,
    costRestoreRate: e.QUERY_COST_RESTORE_RATE,
    maxEventLoopDelayMs: e.MAX_EVENT_LOOP_DELAY_MS,
    hsts: e.HSTS,
    publishSchema: e.PUBLISH_SCHEMA,
    metricsToken: e.METRICS_TOKEN || undefined,
    metricsOperationNames: e.METRICS_OPERATION_NAMES,
    otelTracesEndpoint:
      e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
      (e.OTEL_EXPORTER_OTLP_ENDPOINT &&
        `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`),
    otelServiceName: e.OTEL_SERVICE_NAME,
  };
}
