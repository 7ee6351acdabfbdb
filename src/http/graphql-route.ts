import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import type { Config } from '../config';
import { IDE_CSP, registerIdeAssets, renderIdePage, wantsIde } from '../ide';
import { preValidationRefusal } from '../schema/query-limits';
import { landingPage, registerSchemaRoute } from './schema-routes';
import type { SignInDoor } from './sign-in-shedding';

export interface GraphQLRouteOptions {
  /** The GraphQL IDE on a browser's GET; without it, a page that says what this is. */
  ide: Config['ide'];
  /** SDL of the schema at /schema.graphql, or null not to publish it. */
  publishedSchema: string | null;
  limits: { maxTokens: number; maxDepth: number; maxAliases: number };
  /** The served schema: a document naming many fields it lacks is refused before validation. */
  schema: GraphQLSchema;
  signInDoor: SignInDoor;
  handle: (request: FastifyRequest, reply: FastifyReply) => unknown;
}

/**
 * `/graphql` (GET, POST, OPTIONS): a browser gets the IDE (or, in production, a page that says
 * what this is); a document past the limits is refused before graphql-js validates it; sign-ins
 * beyond what the hashing threads can take are shed; the rest runs through Apollo.
 */
export function registerGraphQLRoute(server: FastifyInstance, options: GraphQLRouteOptions): void {
  const { ide, limits, signInDoor, handle } = options;
  if (ide) registerIdeAssets(server);
  if (options.publishedSchema !== null) registerSchemaRoute(server, options.publishedSchema);
  const landing = landingPage({ schemaPublished: options.publishedSchema !== null });
  server.route({
    method: ['GET', 'POST', 'OPTIONS'],
    url: '/graphql',
    handler(request, reply) {
      if (request.method === 'GET' && wantsIde(request.headers.accept, request.query)) {
        if (!ide) {
          // A browser, in production: what this is, not a CSRF error in JSON.
          return reply.header('content-type', 'text/html; charset=utf-8').send(landing);
        }
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
      const refusal = preValidationRefusal(
        params?.query,
        params?.operationName,
        limits,
        options.schema,
      );
      if (refusal) return reply.code(400).send({ errors: [refusal] });
      const shed = signInDoor.admit(params?.query, params?.operationName, reply);
      if (shed) return reply.code(shed.status).headers(shed.headers).send(shed.body);
      return handle(request, reply);
    },
  });
}
