import type { RateLimitedError } from '../errors';
import { rootOperation } from './operation';

/** The mutations that hash a password. */
const HASHING = new Set(['login', 'register', 'changePassword']);
const MENTIONS_HASHING = /\b(?:login|register|changePassword)\b/;

/**
 * While the hashing queue is full, a sign-in would only be refused with RATE_LIMITED after the
 * whole GraphQL pipeline: in a burst of hundreds, that work alone stalls other requests. This
 * refuses it before Apollo: a cheap text test first, then, only while the queue is full, a parse
 * to be sure the operation really calls one of these mutations. Null: let the request through.
 */
export function signInRefusal(
  query: unknown,
  operationName: unknown,
  refusal: () => RateLimitedError | null,
): { status: number; headers: Record<string, string>; body: unknown } | null {
  if (typeof query !== 'string' || !MENTIONS_HASHING.test(query)) return null;
  const error = refusal();
  if (!error) return null;
  const root = rootOperation(query, operationName);
  if (!root || root.operation.operation !== 'mutation') return null;
  if (![...root.fields].some((field) => HASHING.has(field))) return null;
  const retryAfter = Number(error.extensions.retryAfter);
  return {
    status: 429,
    headers: { 'retry-after': String(retryAfter), 'cache-control': 'no-store' },
    body: {
      errors: [{ message: error.message, extensions: { code: 'RATE_LIMITED', retryAfter } }],
    },
  };
}
