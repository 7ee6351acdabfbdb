import { Readable } from 'node:stream';
import { HeaderMap, type ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Context } from '../context';
import { withDeadline } from '../db/deadline';
import { SERVICE_RETRY_AFTER_SECONDS } from '../errors';

/** Fastify's request as Apollo reads it: every header, the query string for GET. */
function toGraphQLRequest(request: FastifyRequest) {
  const headers = new HeaderMap();
  for (const [key, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
  }
  const q = request.url.indexOf('?');
  return {
    body: request.body,
    method: request.method.toUpperCase(),
    headers,
    search: q === -1 ? '' : request.url.slice(q),
  };
}

/**
 * Runs one GraphQL request through Apollo, inside the request's database deadline when there
 * is one (not on the embedded PGlite, which runs in this process and where no timer can fire).
 */
export function graphqlHandler(
  apollo: ApolloServer<Context>,
  context: (request: FastifyRequest) => Promise<Context>,
  deadlineMs: number | null,
) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const execute = () =>
      apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: toGraphQLRequest(request),
        context: () => context(request),
      });
    const response =
      deadlineMs === null ? await execute() : await withDeadline(deadlineMs, execute);
    for (const [key, value] of response.headers) void reply.header(key, value);
    void reply.code(response.status ?? 200);
    if (response.body.kind === 'complete') return reply.send(response.body.string);
    return reply.send(Readable.from(response.body.asyncIterator));
  };
}

/**
 * A response that carries no data because a dependency did not answer is HTTP 503 with
 * Retry-After, so that clients and proxies can tell "retry later" from "bug"; one with partial
 * data stays 200 with the coded errors beside it.
 */
export function serviceUnavailableStatus(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          const { data, errors } = response.body.singleResult;
          if (!errors?.some((e) => e.extensions?.code === 'SERVICE_UNAVAILABLE')) return;
          response.http.headers.set('retry-after', String(SERVICE_RETRY_AFTER_SECONDS));
          if (!data || Object.values(data).every((value) => value === null)) {
            response.http.status = 503;
          }
        },
      };
    },
  };
}
