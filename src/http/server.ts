import cors from '@fastify/cors';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Metrics } from '../metrics';
import { lightenAsyncResourceBind } from '../lib/async-resource-bind';
import { telemetry } from '../telemetry';
import { registerJsonBodyParser } from './json-body';
import { registerProtection } from './protection';
import { registerHttpTracing } from './tracing';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface HttpServer {
  server: FastifyInstance;
  /** True once draining: new requests are refused, coded, and keep-alive connections end. */
  isDraining(): boolean;
  startDraining(): void;
}

/**
 * Fastify with what every route shares: request ids (a client's well-formed X-Request-Id, or a
 * new one), the HTTP server span when telemetry is on (./tracing.ts), production headers and
 * load shedding (./protection.ts), /metrics, CORS, and draining: while the server stops,
 * keep-alive connections end with their last response.
 */
export async function createHttpServer(
  config: Config,
  logger: Logger,
  metrics: Metrics,
): Promise<HttpServer> {
  lightenAsyncResourceBind();
  const server: FastifyInstance = (Fastify as unknown as (o: object) => FastifyInstance)({
    loggerInstance: logger,
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    // Logged once a request, when it is answered (below).
    disableRequestLogging: true,
    genReqId: (req: { headers: Record<string, string | string[] | undefined> }) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    // Draining refusals are coded (src/http/protection.ts), not Fastify's bare 503.
    return503OnClosing: false,
    // A whole request, headers and body, must arrive within this (408 and the connection closed
    // past it): Fastify's default (0) let a body trickled a byte a second hold its connection
    // and buffer for as long as the client liked. Checked every second, not every 30 s.
    requestTimeout: config.httpRequestTimeoutMs,
    http: {
      headersTimeout: Math.min(60_000, config.httpRequestTimeoutMs),
      connectionsCheckingInterval: 1_000,
    },
  });
  // First: its onRoute hook wraps every route's handler, its span times every hook.
  if (telemetry.enabled) registerHttpTracing(server);
  let draining = false;
  // Hooks in callback form: an async hook costs each request a promise and a microtask turn.
  server.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    if (draining) void reply.header('connection', 'close');
    done();
  });
  server.addHook('onSend', (_request, reply, payload, done) => {
    if (draining) void reply.header('connection', 'close');
    done(null, payload);
  });
  server.addHook('onResponse', (request, reply, done) => {
    // One line a request, when it is answered (Fastify's own logging writes two). A response
    // that failed before it was all written (the socket broke) is logged at warn.
    const completed = reply.raw.writableFinished;
    if (!completed || logger.isLevelEnabled('info')) {
      request.log[completed ? 'info' : 'warn'](
        {
          req: requestLine(request),
          res: { statusCode: reply.statusCode },
          responseTime: Math.round(reply.elapsedTime * 10) / 10,
        },
        completed ? 'request completed' : 'response not completed',
      );
    }
    if (draining) server.server.closeIdleConnections();
    done();
  });
  // A client that went away before its answer: no onResponse, so the line is written here.
  server.addHook('onRequestAbort', (request, done) => {
    if (logger.isLevelEnabled('info')) {
      request.log.info({ req: requestLine(request) }, 'request aborted by the client');
    }
    done();
  });
  registerJsonBodyParser(server);
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
  return {
    server,
    isDraining: () => draining,
    startDraining() {
      draining = true;
    },
  };
}

/**
 * What a request line says of the request: its path without the query string (a GET's
 * `variables` can carry anything, a password included), method, host and client address, in
 * the shape Fastify's `req` serializer reads.
 */
function requestLine(request: FastifyRequest) {
  const q = request.url.indexOf('?');
  return {
    method: request.method,
    url: q === -1 ? request.url : request.url.slice(0, q),
    host: request.host,
    ip: request.ip,
    socket: request.socket,
  };
}
