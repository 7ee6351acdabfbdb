import { Readable } from 'node:stream';
import { HeaderMap, type ApolloServer, type HTTPGraphQLResponse } from '@apollo/server';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Context } from '../context';
import { withDeadline } from '../db/deadline';
import { SERVICE_RETRY_AFTER_SECONDS } from '../errors';
import type { Clock } from '../lib/clock';
import { telemetry } from '../telemetry';
import type { RequestPlugin } from './request-plugins';
import {
  type Caller,
  errorResponse,
  planIdempotency,
  runIdempotently,
  type SimpleResponse,
} from './idempotency';
import type { KnownDocuments } from './known-documents';
import { inOperationSpan } from './operation-telemetry';

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

export interface GraphQLHandlerOptions {
  apollo: ApolloServer<Context>;
  /** Answers a request whose document Apollo has validated before (./known-documents.ts). */
  lane: KnownDocuments | null;
  /** The request's context; `em` when the request runs in a transaction of its own. */
  context: (request: FastifyRequest, extra: ContextExtras) => Promise<Context>;
  /** A fresh EntityManager for a request that runs in one transaction (Idempotency-Key). */
  fork: () => EntityManager;
  /** Who sends the request, as its credential says now, for the scope of an Idempotency-Key. */
  callerOf: (request: FastifyRequest, em: EntityManager) => Promise<Caller>;
  clock: Clock;
  /** The request's database deadline; null on the embedded PGlite (no timer can fire there). */
  deadlineMs: number | null;
}

export interface ContextExtras {
  em?: EntityManager;
  /** An Idempotency-Key header on a mutation calling invokeTool: the call's default key. */
  idempotencyKey?: string;
}

/**
 * Runs one GraphQL request through Apollo, inside the request's database deadline (and, with
 * telemetry on, the operation's span). A mutation sent with an `Idempotency-Key` header runs at
 * most once per caller and key (./idempotency.ts).
 */
export function graphqlHandler(options: GraphQLHandlerOptions) {
  const { apollo, lane, context, deadlineMs } = options;
  const viaApollo = (request: FastifyRequest, makeContext: () => Promise<Context>) =>
    apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: toGraphQLRequest(request),
      context: makeContext,
    });
  const execute = (request: FastifyRequest, extra: ContextExtras) => {
    const makeContext = () => context(request, extra);
    const call = async () => {
      if (!lane) return viaApollo(request, makeContext);
      const answered = lane.answer(request, makeContext, (failed) => viaApollo(request, failed));
      if (answered) return answered;
      const response = await viaApollo(request, makeContext);
      lane.learnContentType(request.headers.accept, response);
      return response;
    };
    return telemetry.enabled ? inOperationSpan(call) : call();
  };
  const run = async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers['idempotency-key'];
    if (request.method === 'POST' && typeof header === 'string') {
      const plan = planIdempotency(header, request.body);
      if ('error' in plan) {
        return send(
          reply,
          errorResponse(400, 'BAD_USER_INPUT', plan.error, { fields: ['Idempotency-Key'] }),
        );
      }
      if (plan.kind === 'transaction') {
        const response = await runIdempotently(
          options.fork(),
          plan,
          options.clock,
          (em) => options.callerOf(request, em),
          async (em) => {
            const r = await execute(request, { em });
            const body =
              r.body.kind === 'complete' ? r.body.string : await collect(r.body.asyncIterator);
            return { status: r.status ?? 200, headers: [...r.headers], body };
          },
        );
        // A credential that is not good: no key scope, no stored answer; refused as any request.
        if (response !== 'plain') return send(reply, response);
      }
      if (plan.kind === 'tool')
        return forward(reply, await execute(request, { idempotencyKey: plan.key }));
    }
    return forward(reply, await execute(request, {}));
  };
  return (request: FastifyRequest, reply: FastifyReply) =>
    deadlineMs === null ? run(request, reply) : withDeadline(deadlineMs, () => run(request, reply));
}

async function collect(chunks: AsyncIterableIterator<string>): Promise<string> {
  let body = '';
  for await (const chunk of chunks) body += chunk;
  return body;
}

function send(reply: FastifyReply, response: SimpleResponse) {
  for (const [key, value] of response.headers) void reply.header(key, value);
  return reply.code(response.status).send(response.body);
}

function forward(reply: FastifyReply, response: HTTPGraphQLResponse) {
  for (const [key, value] of response.headers) void reply.header(key, value);
  void reply.code(response.status ?? 200);
  if (response.body.kind === 'complete') return reply.send(response.body.string);
  return reply.send(Readable.from(response.body.asyncIterator));
}

/**
 * A response that carries no data because a dependency did not answer is HTTP 503 with
 * Retry-After, so that clients and proxies can tell "retry later" from "bug"; one refused for
 * a rate (sign-ins a minute, tool calls a minute, the cost budget) is HTTP 429 with Retry-After,
 * the longest `retryAfter` among its refusals, whichever limit refused it. One with partial
 * data stays 200 with the coded errors beside it (and the header).
 */
export function retryLaterStatus(): RequestPlugin<Context> {
  return {
    requestDidStart() {
      return {
        willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          const { data, errors } = response.body.singleResult;
          if (!errors) return;
          const noData = !data || Object.values(data).every((value) => value === null);
          if (errors.some((e) => e.extensions?.code === 'SERVICE_UNAVAILABLE')) {
            response.http.headers.set('retry-after', String(SERVICE_RETRY_AFTER_SECONDS));
            if (noData) response.http.status = 503;
            return;
          }
          let retryAfter = 0;
          for (const e of errors) {
            const after = e.extensions?.retryAfter;
            if (e.extensions?.code === 'RATE_LIMITED' && typeof after === 'number') {
              retryAfter = Math.max(retryAfter, after);
            }
          }
          if (retryAfter === 0) return;
          response.http.headers.set('retry-after', String(retryAfter));
          if (noData) response.http.status = 429;
        },
      };
    },
  };
}
