import type { RequestPlugin } from './request-plugins';
import { ApolloServerValidationErrorCode, unwrapResolverError } from '@apollo/server/errors';
import type { FastifyInstance } from 'fastify';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Context } from '../context';
import { isDatabaseUnavailable, saysDatabaseUnavailable } from '../db/unavailable';
import { AppError, SERVICE_RETRY_AFTER_SECONDS } from '../errors';

/**
 * Error mapping, in one place: what a client sees of every error, and what the log keeps.
 * Errors are told apart by class and code wherever graphql-js or Apollo gives one (AppError,
 * Apollo's codes and `validationErrorCode`, the RangeError of a parser out of stack). Two
 * graphql-js errors carry nothing but their message, and only those are read by text: the
 * parser's token limit and the MaxIntrospectionDepthRule of `specifiedRules`; so are the
 * field names of a variable that does not coerce (graphql-js puts the path in the message).
 */

/** Apollo's codes for a request that failed before execution, through the client's fault. */
const CLIENT_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'BAD_USER_INPUT',
]);

/** graphql-js's parser token limit (graphql 16 says "more that N tokens"; later "than"). */
const TOKEN_LIMIT = /more tha[nt] \d+ tokens/;
/** graphql-js's MaxIntrospectionDepthRule, which reports with no code of its own. */
const INTROSPECTION_DEPTH = 'Maximum introspection depth exceeded';

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

/** The innermost cause of an error (Apollo and graphql-js wrap what they catch). */
function rootCause(error: unknown): unknown {
  let current = error;
  for (let i = 0; i < 5 && current instanceof GraphQLError && current.originalError; i += 1) {
    current = current.originalError;
  }
  return current;
}

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

/**
 * Apollo's formatError: coded errors pass, GraphQL-level input errors become BAD_USER_INPUT
 * (or QUERY_TOO_COMPLEX for the document limits), anything else leaves as
 * INTERNAL_SERVER_ERROR with a generic message; the full error is logged with the request id
 * (errorLogger).
 */
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
    if (!isRequestError(error, code)) {
      return {
        message: 'Internal server error',
        path: formatted.path,
        // The full error is in the log with the request id; never in the response, in any mode.
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      };
    }
    // The parser recursing out of stack on a deeply nested literal: say so, not how.
    if (rootCause(error) instanceof RangeError) {
      return {
        message: 'The document is nested too deeply',
        extensions: { code: 'QUERY_TOO_COMPLEX' },
      };
    }
    if (
      (code === 'GRAPHQL_PARSE_FAILED' && TOKEN_LIMIT.test(formatted.message)) ||
      (code === 'GRAPHQL_VALIDATION_FAILED' && formatted.message === INTROSPECTION_DEPTH)
    ) {
      return { message: formatted.message, extensions: { code: 'QUERY_TOO_COMPLEX' } };
    }
    if (
      formatted.extensions?.validationErrorCode ===
      ApolloServerValidationErrorCode.INTROSPECTION_DISABLED
    ) {
      return {
        message: 'Introspection is disabled on this server',
        locations: formatted.locations,
        extensions: { code: 'BAD_USER_INPUT', fields: [] },
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
  };
}

/** Logs what formatError hid: every error that is neither coded nor the client's fault. */
export function errorLogger(): RequestPlugin<Context> {
  return {
    requestDidStart({ contextValue }) {
      return {
        didEncounterErrors({ errors, request }) {
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

/**
 * Errors Fastify answers before GraphQL runs (an oversized or malformed body) still leave in
 * the GraphQL shape, with a contract code.
 */
export function registerErrorHandler(server: FastifyInstance): void {
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
}
