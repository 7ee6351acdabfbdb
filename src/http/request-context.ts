import { HeaderMap } from '@apollo/server';
import type { FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth/authenticate';
import type { Context } from '../context';
import { isDatabaseUnavailable } from '../db/unavailable';
import { SERVICE_RETRY_AFTER_SECONDS, ServiceUnavailableError } from '../errors';
import type { Clock } from '../lib/clock';
import { createLoaders } from '../loaders';
import type { ContextExtras } from './graphql-handler';
import { sessionCheckCanRide } from './session-deferral';

/**
 * A GraphQL request's context: its EntityManager (the Idempotency-Key transaction's, or a fresh
 * fork), the viewer its credential names (one statement, or none when the session check rides
 * on the request's page: ./session-deferral.ts), its DataLoaders. A database that does
 * not answer the credential check makes the whole request 503 with Retry-After.
 */
export function requestContext(
  fork: () => Context['em'],
  authenticator: Authenticator,
  clock: Clock,
) {
  return async (request: FastifyRequest, extra: ContextExtras): Promise<Context> => {
    const em = extra.em ?? fork();
    let viewer: Context['viewer'];
    try {
      viewer = await authenticator.authenticate(
        em,
        request.headers.authorization,
        clock.now(),
        // Not inside an Idempotency-Key transaction (mutations only).
        () => !extra.em && sessionCheckCanRide(request),
      );
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
  };
}
