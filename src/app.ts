import 'reflect-metadata';
import { ApolloServer, HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { unwrapResolverError } from '@apollo/server/errors';
import { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import cors from '@fastify/cors';
import { MikroORM } from '@mikro-orm/postgresql';
import Fastify, { type FastifyInstance } from 'fastify';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import Redis from 'ioredis';
import pino, { type Logger, type LoggerOptions } from 'pino';
import { randomUUID } from 'node:crypto';
import { Authenticator } from './auth/authenticate';
import { PasswordHasher } from './auth/passwords';
import { AccessTokens, parseApiKey } from './auth/tokens';
import type { Config } from './config';
import type { Context } from './context';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './db/embedded';
import { ormOptions } from './db/orm-options';
import { migrate, underStartupLock } from './db/migrate';
import { guardPool } from './db/pool-guard';
import { sendStatementsAsText } from './db/query';
import { prepareDatabase } from './db/server-settings';
import { isDatabaseUnavailable, saysDatabaseUnavailable } from './db/unavailable';
import { IdempotentRequest } from './entities';
import { AppError, SERVICE_RETRY_AFTER_SECONDS, ServiceUnavailableError } from './errors';
import { graphqlHandler, serviceUnavailableStatus } from './http/graphql-handler';
import { callerOf } from './http/idempotency';
import { registerProtection } from './http/protection';
import { landingPage, registerSchemaRoute } from './http/schema-routes';
import { SignInDoor } from './http/sign-in-shedding';
import { IDE_CSP, registerIdeAssets, renderIdePage, wantsIde } from './ide';
import { systemClock, type Clock } from './lib/clock';
import { CostBudget } from './lib/cost-budget';
import { RateLimiter } from './lib/rate-limit';
import { RedisHealth } from './lib/redis-health';
import { createLoaders } from './loaders';
import { Metrics } from './metrics';
import { guardSchema } from './permissions';
import { AccountService } from './resolvers/accounts/account.service';
import { AdminService } from './resolvers/admin/admin.service';
import { AuditService } from './audit/audit.service';
import { StatsService } from './resolvers/admin/stats.service';
import { ApiKeyService } from './resolvers/api-keys/api-key.service';
import { SubscriptionService } from './resolvers/plans/subscription.service';
import { TaskService } from './resolvers/tasks/task.service';
import { InputValidator } from './resolvers/tools/input-validator';
import { InvocationService } from './resolvers/tools/invocation.service';
import { ToolService } from './resolvers/tools/tool.service';
import { UpstreamClient } from './upstream/upstream-client';
import { UsageService } from './resolvers/usage/usage.service';
import { buildAppSchema, printAppSchema } from './schema/build-schema';
import { queryCostPlugin } from './schema/query-cost';
import { preValidationRefusal } from './schema/query-limits';
import { seedInitialData } from './seeders/initial-data';
import type { Services } from './services';

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
  /** Stops taking requests, lets in-flight ones finish, closes the pool and the database. */
  close(): Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const CLIENT_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'BAD_USER_INPUT',
]);

/**
 * pino, JSON lines everywhere but a developer's terminal: outside production, when stdout is a
 * terminal (and LOG_FORMAT is not json), lines are printed readable by pino-pretty, in-process.
 */
export function createLogger(config: Config): Logger {
  const options: LoggerOptions = {
    level: config.logLevel,
    base: { service: 'switchboard' },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        '*.password',
        '*.currentPassword',
        '*.newPassword',
        '*.refreshToken',
        '*.accessToken',
        '*.secret',
        'variables',
      ],
      censor: '[redacted]',
    },
  };
  const pretty =
    config.logFormat === 'pretty' ||
    (config.logFormat === 'auto' && !config.isProduction && process.stdout.isTTY === true);
  if (!pretty) return pino(options);
  // Loaded only here: production never loads it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const prettyStream = require('pino-pretty') as (o: object) => NodeJS.WritableStream;
  return pino(
    options,
    prettyStream({
      colorize: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,service',
    }),
  );
}

/** `fields` for a GraphQL-level input error, read from graphql-js's message. */
function fieldsOf(message: string): string[] {
  // `Field "title" of required type "String!" was not provided.` / `Field "x" is not defined`
  const field = /Field "(\w+)" (?:of required type|is not defined)/.exec(message);
  if (field) return [field[1]!];
  const at = /at "([^"]+)"/.exec(message);
  if (at) return [at[1]!.replace(/^\$?\w+\./, '')];
  const variable = /Variable "\$(\w+)"/.exec(message);
  if (variable) return [variable[1]!];
  const arg = /[Aa]rgument "(\w+)"/.exec(message);
  return arg ? [arg[1]!] : [];
}

/**
 * One place masks errors: coded errors pass, GraphQL-level input errors become
 * BAD_USER_INPUT (or QUERY_TOO_COMPLEX for the token limit), anything else leaves as
 * INTERNAL_SERVER_ERROR with a generic message; the full error is logged with the request id.
 */
/**
 * Errors the request itself caused before execution: GraphQL's parse and validation codes, and
 * Apollo's request errors that carry only an HTTP 4xx status (a persisted-query hash that does
 * not match its query, an unsupported persisted-query version).
 */
function isRequestError(error: unknown, code: unknown): boolean {
  if (typeof code === 'string' && CLIENT_ERROR_CODES.has(code)) return true;
  if (!(error instanceof GraphQLError) || error.originalError) return false;
  const status = (error.extensions?.http as { status?: number } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

export function formatError() {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof AppError) {
      const { http: _http, ...extensions } = original.extensions as Record<string, unknown>;
      return { ...formatted, message: original.message, extensions };
    }
    if (isDatabaseUnavailable(original)) {
      return {
        message: 'The database is not answering; retry shortly',
        path: formatted.path,
        extensions: { code: 'SERVICE_UNAVAILABLE', retryAfter: SERVICE_RETRY_AFTER_SECONDS },
      };
    }
    const code = formatted.extensions?.code;
    if (isRequestError(error, code)) {
      // graphql 16 says "more that N tokens"; later versions "more than".
      if (
        (code === 'GRAPHQL_PARSE_FAILED' && /more tha[nt] \d+ tokens/.test(formatted.message)) ||
        /Maximum introspection depth exceeded/.test(formatted.message)
      ) {
        return { message: formatted.message, extensions: { code: 'QUERY_TOO_COMPLEX' } };
      }
      if (/introspection is not allowed/.test(formatted.message)) {
        return {
          message: 'Introspection is disabled on this server',
          locations: formatted.locations,
          extensions: { code: 'BAD_USER_INPUT', fields: [] },
        };
      }
      // The parser recursing out of stack on a deeply nested literal: say so, not how.
      if (/Maximum call stack size exceeded/.test(formatted.message)) {
        return {
          message: 'The document is nested too deeply',
          extensions: { code: 'QUERY_TOO_COMPLEX' },
        };
      }
      const fields =
        (formatted.extensions?.fields as string[] | undefined) ?? fieldsOf(formatted.message);
      return {
        message: formatted.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: 'BAD_USER_INPUT', fields },
      };
    }
    return {
      message: 'Internal server error',
      path: formatted.path,
      // The full error is in the log with the request id; never in the response, in any mode.
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}

function errorLogger(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart({ contextValue }) {
      return {
        async didEncounterErrors({ errors, request }) {
          for (const error of errors) {
            const original = unwrapResolverError(error);
            if (original instanceof AppError) continue;
            if (isRequestError(error, error.extensions?.code)) continue;
            if (isDatabaseUnavailable(original)) {
              // A follow-on error (not one that says "unavailable" itself) keeps its stack.
              contextValue?.logger?.warn(
                {
                  err: saysDatabaseUnavailable(original) ? (original as Error).message : original,
                  requestId: contextValue.requestId,
                },
                'database unavailable',
              );
              continue;
            }
            contextValue?.logger?.error(
              {
                err: original,
                requestId: contextValue.requestId,
                operation: request.operationName,
              },
              'unexpected error',
            );
          }
        },
      };
    },
  };
}

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config);
  const clock = options.clock ?? systemClock;

  let embedded: EmbeddedDatabase | null = null;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedDatabase(config.dataDir, {
      maxConnections: config.dbPoolMax + 4,
    });
    databaseUrl = embedded.url;
    logger.info({ dataDir: config.dataDir }, 'using the embedded PostgreSQL (PGlite)');
  }
  const database = await prepareDatabase(
    databaseUrl,
    {
      statementTimeoutMs: config.dbStatementTimeoutMs,
      lockTimeoutMs: config.dbLockTimeoutMs,
      idleInTransactionTimeoutMs: config.dbIdleInTransactionTimeoutMs,
    },
    logger,
    // Starting is not latency-critical: a slow first connection is waited for.
    Math.max(config.dbConnectTimeoutMs, 10_000),
  );
  const metrics = new Metrics(config.nodeEnv !== 'test');
  const statementListeners = new Set<(text: string) => void>();
  const orm = await MikroORM.init(
    ormOptions(databaseUrl, {
      onQuery: (text) => {
        metrics.dbStatements.inc();
        for (const listener of statementListeners) listener(text);
      },
      poolMax: config.dbPoolMax,
      // PGlite answers from this process: a slow accept means a busy process, not a dead peer.
      connectTimeoutMs: database.embedded ? 30_000 : config.dbConnectTimeoutMs,
    }),
  );
  // On PGlite (in this process) no timer can fire while it works: no deadline there.
  if (!database.embedded) guardPool(orm.em.getKnex(), config.dbAcquireTimeoutMs);
  else sendStatementsAsText(orm.em.getKnex());
  if (config.migrateOnStart) {
    const executed = await migrate(orm, database.embedded);
    if (executed.length > 0) logger.info({ migrations: executed }, 'applied migrations');
  } else {
    const pending = await orm.getMigrator().getPendingMigrations();
    if (pending.length > 0) {
      await orm.close(true);
      await embedded?.stop();
      throw new Error(
        `${pending.length} migration(s) pending and MIGRATE_ON_START=false: run \`npm run migrate\` first`,
      );
    }
  }

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
  const redis = config.redisUrl
    ? new Redis(config.redisUrl, {
        lazyConnect: false,
        // A limit check never waits on Redis for long: past this it counts in-process.
        commandTimeout: config.redisCommandTimeoutMs,
        connectTimeout: 1_000,
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
        retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
      })
    : null;
  // Reconnection errors repeat while Redis is away; RedisHealth logs the switch once.
  redis?.on('error', (err) => logger.debug({ err: err.message }, 'redis error'));
  if (redis && redis.status !== 'ready') {
    // Start with shared limits when Redis is there; without it, start anyway (in-process).
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
  const upstream = new UpstreamClient({
    timeoutMs: config.toolTimeoutMs,
    retries: config.toolRetries,
    retryBaseMs: config.toolRetryBaseMs,
    breakerFailures: config.toolBreakerFailures,
    breakerResetMs: config.toolBreakerResetMs,
    allowPrivateNetworks: config.toolAllowPrivateNetworks,
  });
  const redisHealth = redis ? new RedisHealth(logger, metrics) : null;
  const rateLimiter = new RateLimiter(redis, redisHealth);
  const costBudget = new CostBudget(
    { capacity: config.costBucketSize, restoreRate: config.costRestoreRate },
    redis,
    redisHealth,
  );
  const validator = new InputValidator();
  const audit = new AuditService();
  const subscriptions = new SubscriptionService(audit, clock);
  const tools = new ToolService(audit, validator, {
    hostAllowlist: config.toolHostAllowlist,
    allowPrivateNetworks: config.toolAllowPrivateNetworks,
  });
  const services: Services = {
    accounts: new AccountService(
      passwords,
      accessTokens,
      config.refreshTokenTtlDays,
      clock,
      rateLimiter,
      {
        perAddress: config.authRatePerMinute,
        perEmail: config.loginRatePerEmailPerMinute,
        refreshPerAddress: config.refreshRatePerMinute,
      },
    ),
    tasks: new TaskService(audit),
    admin: new AdminService(audit, clock),
    audit,
    stats: new StatsService(),
    subscriptions,
    tools,
    invocations: new InvocationService(
      tools,
      subscriptions,
      validator,
      upstream,
      rateLimiter,
      clock,
      config.toolTimeoutMs + 5_000,
      metrics,
    ),
    usage: new UsageService(clock),
    apiKeys: new ApiKeyService(clock),
  };

  await underStartupLock(orm, (tx) =>
    seedInitialData(tx as unknown as Context['em'], {
      adminEmail: config.adminEmail,
      adminPassword: config.adminPassword,
      passwords,
      tools,
      logger,
    }),
  );

  const baseSchema = buildAppSchema(services);
  const schema = guardSchema(baseSchema);
  const authenticator = new Authenticator(accessTokens);

  const server: FastifyInstance = (Fastify as unknown as (o: object) => FastifyInstance)({
    loggerInstance: logger,
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    genReqId: (req: { headers: Record<string, string | string[] | undefined> }) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    // Draining refusals are coded (src/http/protection.ts), not Fastify's bare 503.
    return503OnClosing: false,
  });
  // While draining, keep-alive connections end with their last response so close() can finish.
  let draining = false;
  server.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (draining) reply.header('connection', 'close');
  });
  server.addHook('onSend', async (_request, reply) => {
    if (draining) reply.header('connection', 'close');
  });
  server.addHook('onResponse', async () => {
    if (draining) server.server.closeIdleConnections();
  });
  await registerProtection(server, {
    hsts: config.hsts,
    maxEventLoopDelayMs: config.maxEventLoopDelayMs,
    metrics,
    isDraining: () => draining,
  });
  metrics.register(server, config.metricsToken);
  await server.register(cors, {
    origin: config.corsOrigins.length > 0 ? config.corsOrigins : false,
    credentials: true,
    exposedHeaders: ['x-request-id'],
  });

  const apollo = new ApolloServer<Context>({
    schema,
    introspection: config.introspection,
    // Without introspection, "Did you mean …?" suggestions would map the schema anyway.
    hideSchemaDetailsFromClientErrors: !config.introspection,
    includeStacktraceInErrorResponses: false,
    // Apollo pretty-prints by default (JSON.stringify with indentation): bytes and CPU for nobody.
    stringifyResult: (value) => JSON.stringify(value),
    formatError: formatError(),
    parseOptions: { maxTokens: config.queryMaxTokens },
    // Apollo formats each validation error at ~90 µs: a document of 100 unknown fields would
    // cost 9 ms. Ten tell a client what is wrong as well.
    validationOptions: { maxErrors: 10 },
    plugins: [
      fastifyApolloDrainPlugin(server),
      ApolloServerPluginLandingPageDisabled(),
      // Its per-field hook wraps every resolver; responses here are per-user and never cached.
      ApolloServerPluginCacheControlDisabled(),
      queryCostPlugin(schema, costBudget, config.queryMaxCost, metrics),
      errorLogger(),
      serviceUnavailableStatus(),
    ],
  });
  await apollo.start();

  const handleGraphQL = graphqlHandler({
    apollo,
    fork: () => orm.em.fork() as unknown as Context['em'],
    clock,
    callerOf: (request) =>
      callerOf(
        request,
        (token) => accessTokens.verify(token),
        (key) => parseApiKey(key)?.prefix ?? null,
      ),
    context: async (request, extra) => {
      const em = extra.em ?? (orm.em.fork() as unknown as Context['em']);
      let viewer: Context['viewer'];
      try {
        viewer = await authenticator.authenticate(em, request.headers.authorization, clock.now());
      } catch (err) {
        if (!isDatabaseUnavailable(err)) throw err;
        request.log.warn({ err: (err as Error).message }, 'database unavailable');
        // Apollo answers a failed context with this error's HTTP status and headers.
        const unavailable = new ServiceUnavailableError(
          'The database is not answering; retry shortly',
        );
        (unavailable.extensions as Record<string, unknown>).http = {
          status: 503,
          headers: new HeaderMap([['retry-after', String(SERVICE_RETRY_AFTER_SECONDS)]]),
        };
        throw unavailable;
      }
      return {
        em,
        viewer,
        loaders: createLoaders(em, viewer, clock),
        requestId: request.id,
        clientAddress: request.ip,
        logger: request.log,
        idempotencyKey: extra.idempotencyKey,
      };
    },
    deadlineMs: database.embedded ? null : config.requestTimeoutMs,
  });

  const signInDoor = new SignInDoor(
    () => passwords.places,
    (waiting) => passwords.secondsFor(waiting),
  );
  const documentLimits = {
    maxTokens: config.queryMaxTokens,
    maxDepth: config.queryMaxDepth,
    maxAliases: config.queryMaxAliases,
  };
  if (config.ide) registerIdeAssets(server);
  if (config.publishSchema) registerSchemaRoute(server, printAppSchema(baseSchema));
  const landing = landingPage({ schemaPublished: config.publishSchema });
  server.route({
    method: ['GET', 'POST', 'OPTIONS'],
    url: '/graphql',
    handler(request, reply) {
      if (
        !config.ide &&
        request.method === 'GET' &&
        wantsIde(request.headers.accept, request.query)
      ) {
        // A browser, in production: what this is, not a CSRF error in JSON.
        return reply.header('content-type', 'text/html; charset=utf-8').send(landing);
      }
      if (
        config.ide &&
        request.method === 'GET' &&
        wantsIde(request.headers.accept, request.query)
      ) {
        return (
          reply
            .header('content-type', 'text/html; charset=utf-8')
            // The page's own policy, plus what only a header can say: never framed.
            .header(
              'content-security-policy',
              `${IDE_CSP}; frame-ancestors 'none'; base-uri 'none'`,
            )
            .send(renderIdePage('/graphql'))
        );
      }
      const params = (request.method === 'POST' ? request.body : request.query) as {
        query?: unknown;
        operationName?: unknown;
      } | null;
      const refusal = preValidationRefusal(params?.query, params?.operationName, documentLimits);
      if (refusal) return reply.code(400).send({ errors: [refusal] });
      const shed = signInDoor.admit(params?.query, params?.operationName, reply);
      if (shed) return reply.code(shed.status).headers(shed.headers).send(shed.body);
      return handleGraphQL(request, reply);
    },
  });

  // Errors Fastify answers before GraphQL runs (an oversized or malformed body) still leave
  // in the GraphQL shape, with a contract code.
  server.setErrorHandler(
    (error: { statusCode?: number; code?: string; message: string }, request, reply) => {
      const status = error.statusCode ?? 500;
      if (status >= 500 && isDatabaseUnavailable(error)) {
        request.log.warn({ err: error.message }, 'database unavailable');
        return reply
          .code(503)
          .header('retry-after', String(SERVICE_RETRY_AFTER_SECONDS))
          .send({
            errors: [
              {
                message: 'The database is not answering; retry shortly',
                extensions: {
                  code: 'SERVICE_UNAVAILABLE',
                  retryAfter: SERVICE_RETRY_AFTER_SECONDS,
                },
              },
            ],
          });
      }
      if (status >= 500) {
        request.log.error({ err: error }, 'unexpected error');
        return reply.code(500).send({
          errors: [
            { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
          ],
        });
      }
      const code = status === 413 ? 'QUERY_TOO_COMPLEX' : 'BAD_USER_INPUT';
      return reply.code(status).send({
        errors: [
          {
            message: error.message,
            extensions: { code, ...(code === 'BAD_USER_INPUT' ? { fields: [] } : {}) },
          },
        ],
      });
    },
  );

  server.get('/health', async () => ({ status: 'ok' }));
  server.get('/ready', async (_request, reply) => {
    if (draining) return reply.code(503).send({ status: 'unavailable', reason: 'draining' });
    const check = await Promise.race([
      orm.checkConnection(),
      new Promise<{ ok: false; reason: string }>((resolve) =>
        setTimeout(() => resolve({ ok: false, reason: 'database check timed out' }), 2_000).unref(),
      ),
    ]);
    if (!check.ok) {
      return reply.code(503).send({ status: 'unavailable', reason: 'database unreachable' });
    }
    return { status: 'ok' };
  });

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
    watchStatements(listener) {
      statementListeners.add(listener);
      return () => statementListeners.delete(listener);
    },
    async listen() {
      return server.listen({ host: config.host, port: config.port });
    },
    async close() {
      if (closed) return;
      closed = true;
      draining = true;
      clearInterval(expireIdempotency);
      server.server.closeIdleConnections();
      await server.close();
      await upstream.close();
      await passwords.close();
      redis?.disconnect();
      await orm.close(true);
      await embedded?.stop();
    },
  };
}
