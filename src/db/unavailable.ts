import { wasCutOff } from './deadline';

/**
 * "The database is not answering": a connection refused, cut or timed out, a pool with no free
 * connection before the deadline, a server shutting down or out of connections, a statement or
 * lock wait cancelled by the server's own timeouts. The request may succeed if retried later,
 * so the client is told SERVICE_UNAVAILABLE, not INTERNAL_SERVER_ERROR.
 */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
  /** Survives MikroORM's wrapping (its DriverException copies the wrapped error's properties). */
  readonly code = DATABASE_UNAVAILABLE;
}

const DATABASE_UNAVAILABLE = 'SB_DATABASE_UNAVAILABLE';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/** SQLSTATEs that mean "not now" rather than "wrong". */
const SQLSTATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '57014', // query_canceled (statement_timeout)
  '55P03', // lock_not_available (lock_timeout)
  '25P03', // idle_in_transaction_session_timeout
]);

const MESSAGES = [
  'Connection terminated',
  'Client has encountered a connection error',
  'timeout exceeded when trying to connect',
  'timeout expired',
  'Timeout acquiring a connection',
  'Client was closed and is not queryable',
  'Query read timeout',
  'server conn crashed',
  'query_wait_timeout',
  'no more connections allowed',
];

function matches(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true;
  if (typeof err !== 'object' || err === null) return false;
  const { code, name, message } = err as { code?: unknown; name?: unknown; message?: unknown };
  if (name === 'KnexTimeoutError' || name === 'ConnectionException') return true;
  if (typeof code === 'string') {
    if (
      code === DATABASE_UNAVAILABLE ||
      NETWORK_CODES.has(code) ||
      SQLSTATES.has(code) ||
      // Connection exceptions, but for protocol_violation: a statement whose values do not
      // match its placeholders is a bug, not an outage.
      (code.startsWith('08') && code !== '08P01')
    )
      return true;
  }
  if (typeof message !== 'string') return false;
  return MESSAGES.some((m) => message.includes(m));
}

/** Whether `err`, or an error it wraps, says by itself that the database is unavailable. */
export function saysDatabaseUnavailable(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current; depth += 1) {
    if (matches(current)) return true;
    const next = current as { originalError?: unknown; cause?: unknown; previous?: unknown };
    current = next.originalError ?? next.cause ?? next.previous;
  }
  return false;
}

/**
 * An error from the database layer: the driver's (a SQLSTATE), the ORM's wrapping of one, or
 * knex's refusal to run a query of a transaction that has already ended.
 */
function fromDatabaseLayer(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current; depth += 1) {
    if (typeof current === 'object') {
      const { name, code, message, severity } = current as Record<string, unknown>;
      if (typeof message === 'string' && message.startsWith('Transaction query already complete'))
        return true;
      if (typeof severity === 'string' && typeof code === 'string') return true; // pg's DatabaseError
      if (typeof name === 'string' && /Exception$/.test(name)) return true; // MikroORM's wrappers
    }
    const next = current as { originalError?: unknown; cause?: unknown; previous?: unknown };
    current = next.originalError ?? next.cause ?? next.previous;
  }
  return false;
}

/**
 * Whether `err` means "the database is not answering": it says so itself, or, inside a request
 * that has already lost its database (a connection cut or refused, its deadline passed), it is
 * a database-layer error that follows from that (the ORM's rollback of a dead transaction,
 * knex's "query already complete", a driver error of the half-closed socket). Any other error
 * (a bug in a resolver, say) keeps its own answer, in any request.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  return saysDatabaseUnavailable(err) || (wasCutOff() && fromDatabaseLayer(err));
}
