import type { FastifyInstance } from 'fastify';
import { nestsDeeperThan } from '../lib/json-depth';

/**
 * The deepest a request body's JSON may nest. A GraphQL request's own envelope is two levels
 * (`{"variables": {…}}`) and a `JSON` variable may hold 64 (src/schema/scalars.ts), so no real
 * request comes near; a body nested 100,000 levels (200 KB of brackets) cost 13-42 ms of the
 * event loop to parse and walk, anonymously and wherever it hid (`extensions` included).
 */
export const MAX_BODY_DEPTH = 100;

/**
 * `application/json` bodies: Fastify's own parser (prototype poisoning refused), after a check
 * of their depth that costs one pass over the text, so that no body costs more to parse than its
 * size says. Too deep is HTTP 400 BAD_USER_INPUT, before anything else reads it.
 */
export function registerJsonBodyParser(server: FastifyInstance): void {
  const parse = server.getDefaultJsonParser('error', 'error');
  server.removeContentTypeParser('application/json');
  server.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (nestsDeeperThan(text, MAX_BODY_DEPTH)) {
      const error = new Error(`The body's JSON is nested deeper than ${MAX_BODY_DEPTH} levels`);
      (error as Error & { statusCode: number }).statusCode = 400;
      done(error, undefined);
      return;
    }
    parse(request, text, done);
  });
}
