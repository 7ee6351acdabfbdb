import type { FastifyInstance } from 'fastify';

/**
 * The deepest a request body's JSON may nest. A GraphQL request's own envelope is two levels
 * (`{"variables": {…}}`) and a `JSON` variable may hold 64 (src/schema/scalars.ts), so no real
 * request comes near; a body nested 100,000 levels (200 KB of brackets) cost 13-42 ms of the
 * event loop to parse and walk, anonymously and wherever it hid (`extensions` included).
 */
export const MAX_BODY_DEPTH = 100;

const OPEN_BRACE = 123; // {
const OPEN_BRACKET = 91; // [
const CLOSE_BRACE = 125; // }
const CLOSE_BRACKET = 93; // ]
const QUOTE = 34; // "
const BACKSLASH = 92; // \

/**
 * Whether JSON text nests deeper than `max`, read in one pass over its characters (brackets
 * inside strings do not count). Invalid JSON is left to the parser to refuse.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i += 1;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth += 1;
      if (depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth -= 1;
    }
  }
  return false;
}

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
