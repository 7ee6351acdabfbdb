import 'reflect-metadata';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Authenticator } from './auth/authenticate';
import { PasswordHasher } from './auth/passwords';
import { AccessTokens, parseApiKey } from './auth/tokens';
import type { Config } from './config';
import type { Context } from './context';
import { underStartupLock } from './db/migrate';
import { openDatabase } from './db/open';
import { IdempotentRequest } from './entities';
import { startApollo } from './http/apollo';
import { registerErrorHandler } from './http/errors';
import { graphqlHandler } from './http/graphql-handler';
import { registerGraphQLRoute } from './http/graphql-route';
import { registerHealthRoutes } from './http/health';
import { callerOf } from './http/idempotency';
import { requestContext } from './http/request-context';
import { createHttpServer } from './http/server';
import { SignInDoor } from './http/sign-in-shedding';
import { systemClock, type Clock } from './lib/clock';
import { CostBudget } from './lib/cost-budget';
import { RateLimiter } from './lib/rate-limit';
import { settlesWithin } from './lib/settle';
import { connectRedis } from './lib/redis-client';
import { RedisHealth } from './lib/redis-health';
import { createLogger } from './logger';
import { Metrics } from './metrics';
import { guardSchema } from './permissions';
import { buildAppSchema, printAppSchema } from './schema/build-schema';
import { seedInitialData } from './seeders/initial-data';
import { createServices } from './services';
import { startTelemetry, type Telemetry } from './telemetry';
import { UpstreamClient } from './upstream/upstream-client';

export { createLogger } from './logger';

export interface AppOptions {
  clock?: Clock;
  logger?: Logger;
}

export interface App {
  server: FastifyInstance;
  orm: MikroORM;
  logger: Logger;
  /** Calls `listener` with every SQL statement this app sends, until the returned stop(). */
  watchStatements(listener: (text: string) => void): () => void;
  /** Listens on config.host:config.port (0 = any free port); resolves to the base URL. */
  listen(): Promise<string>;
  /**
   * Stops taking requests, lets in-flight ones finish, closes the pool and the database, and
   * flushes the traces it started.
   */
  close(): Promise<void>;
}

/**
 * The composition root: the database, the shared pieces (hashing threads, tokens, Redis limits,
 * the upstream client), the services (./services.ts), the guarded schema, and the HTTP server
 * (./http/) with its routes; `close()` takes them down in reverse.
 */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config);
  const clock = options.clock ?? systemClock;
  // First: every seam reads whether it is on once, as it is built.
  const telemetry = await startTelemetry({
    tracesEndpoint: config.otelTracesEndpoint,
    serviceName: config.otelServiceName,
    logger,
  });
  if (telemetry) {
    // The origin only: an endpoint's user info or query string can carry a collector's token.
    logger.info({ endpoint: originOf(config.otelTracesEndpoint) }, 'exporting traces (OTLP)');
  }
  try {
    return await buildApp(config, options, logger, clock, telemetry);
  } catch (err) {
    // A start that fails leaves no tracer registered in the process (a retry could not start one).
    await telemetry?.shutdown().catch(() => undefined);
    throw err;
  }
}

function originOf(url: string | undefined): string | undefined {
  try {
    return url === undefined ? undefined : new URL(url).origin;
  } catch {
    return '(not a URL)';
  }
}

async function buildApp(
  config: Config,
  options: AppOptions,
  logger: Logger,
  clock: Clock,
  telemetry: Telemetry | null,
): Promise<App> {
  const metrics = new Metrics(config.nodeEnv !== 'test', config.metricsOperationNames);
  const database = await openDatabase(config, logger, metrics);
  const { orm } = database;

  const passwords = new PasswordHasher({
    cost: config.bcryptCost,
    workers: config.hashWorkers,
    maxQueue: config.hashQueueMax,
  });
  const accessTokens = new AccessTokens({
    secret: config.jwtSecret,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    ttlSeconds: config.accessTokenTtlSeconds,
  });
  const authenticator = new Authenticator(accessTokens);
  const redis = await connectRedis(config, logger);
  const redisHealth = redis ? new RedisHealth(logger, metrics) : null;
  const rateLimiter = new RateLimiter(redis, redisHealth);
  const costBudget = new CostBudget(
    { capacity: config.costBucketSize, restoreRate: config.costRestoreRate },
    redis,
    redisHealth,
  );
  const upstream = new UpstreamClient({
    timeoutMs: config.toolTimeoutMs,
    retries: config.toolRetries,
    retryBaseMs: config.toolRetryBaseMs,
    breakerFailures: config.toolBreakerFailures,
    breakerResetMs: config.toolBreakerResetMs,
    allowPrivateNetworks: config.toolAllowPrivateNetworks,
    metrics,
  });
  const services = createServices(config, {
    clock,
    passwords,
    accessTokens,
    rateLimiter,
    upstream,
    metrics,
  });

  await underStartupLock(orm, (tx) =>
    seedInitialData(tx as unknown as Context['em'], {
      adminEmail: config.adminEmail,
      adminPassword: config.adminPassword,
      passwords,
      tools: services.tools,
      logger,
      clock,
    }),
  );

  const baseSchema = buildAppSchema(services);
  const schema = guardSchema(baseSchema);
  const http = await createHttpServer(config, logger, metrics);
  const { server } = http;
  const { apollo, lane } = await startApollo(server, schema, config, costBudget, metrics);
  const fork = () => orm.em.fork() as unknown as Context['em'];
  registerGraphQLRoute(server, {
    ide: config.ide,
    publishedSchema: config.publishSchema ? printAppSchema(baseSchema) : null,
    limits: {
      maxTokens: config.queryMaxTokens,
      maxDepth: config.queryMaxDepth,
      maxAliases: config.queryMaxAliases,
    },
    schema,
    signInDoor: new SignInDoor(
      () => passwords.places,
      (waiting) => passwords.secondsFor(waiting),
    ),
    handle: graphqlHandler({
      apollo,
      lane,
      fork,
      clock,
      callerOf: async (request, em) => {
        const header = request.headers.authorization;
        const viewer = await authenticator.authenticate(em, header, clock.now());
        const key = /^Bearer\s+(sk_\S+)\s*$/i.exec(header ?? '')?.[1];
        return callerOf(viewer, request.ip, key ? (parseApiKey(key)?.prefix ?? null) : null);
      },
      context: requestContext(fork, authenticator, clock),
      deadlineMs: database.embedded ? null : config.requestTimeoutMs,
    }),
  });
  registerErrorHandler(server);
  registerHealthRoutes(server, orm, http.isDraining);

  // Stored Idempotency-Key answers are replayed for 24 hours; older ones are removed hourly.
  const expireIdempotency = setInterval(() => {
    orm.em
      .fork()
      .getRepository(IdempotentRequest)
      .expire(clock.now())
      .catch((err: unknown) => logger.warn({ err }, 'could not expire idempotency keys'));
  }, 3_600_000);
  expireIdempotency.unref();

  let closed = false;
  return {
    server,
    orm,
    logger,
    watchStatements: database.watchStatements,
    async listen() {
      return server.listen({ host: config.host, port: config.port });
    },
    async close() {
      if (closed) return;
      closed = true;
      http.startDraining();
      clearInterval(expireIdempotency);
      server.server.closeIdleConnections();
      // In-flight requests finish; a connection still open at half the shutdown time (a request
      // whose body never ends, a client that never reads) is cut, so that the pool and the
      // traces still close before main.ts's hard exit.
      const draining = server.close();
      if (!(await settlesWithin(draining, config.shutdownTimeoutMs / 2))) {
        logger.warn('connections still open at close: cut');
        server.server.closeAllConnections();
        await draining;
      }
      await upstream.close();
      if (!(await passwords.close())) logger.warn('hashing threads still running at close');
      redis?.disconnect();
      await database.close();
      // Last: the spans of the requests that finished above are exported before it returns.
      await telemetry?.shutdown();
    },
  };
}
