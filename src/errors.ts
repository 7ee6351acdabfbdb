import { GraphQLError } from 'graphql';

/**
 * Every error the API throws on purpose: a GraphQLError with the contract's extensions.code.
 *
 * Made without a stack trace. It is an answer, not a fault: no response shows its stack and no
 * log line prints it, and capturing one (V8 walks the call stack and its awaits, twice: Error's
 * constructor and GraphQLError's captureStackTrace) was 12% of the event loop's CPU for a caller
 * over its cost budget, making a refusal dearer than the query it refused.
 */
export abstract class AppError extends GraphQLError {
  protected constructor(message: string, code: string, extra: Record<string, unknown> = {}) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message, { extensions: { code, ...extra } });
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}

export class UnauthenticatedError extends AppError {
  constructor(message = 'Sign in to do this') {
    super(message, 'UNAUTHENTICATED');
  }
}

/** A credential was sent but is not (or no longer) good: bad, expired, revoked, deactivated. */
export class InvalidCredentialsError extends UnauthenticatedError {
  constructor() {
    super('Invalid, expired or revoked credentials');
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'You are not allowed to do this', extra: Record<string, unknown> = {}) {
    super(message, 'FORBIDDEN', extra);
  }
}

export class NotFoundError extends AppError {
  constructor(what = 'Resource') {
    super(`${what} not found`, 'NOT_FOUND');
  }
}

/** `fields` names the offending input fields (paths such as `input.title`). */
export class BadUserInputError extends AppError {
  constructor(message: string, fields: string[], extra: Record<string, unknown> = {}) {
    super(message, 'BAD_USER_INPUT', { fields, ...extra });
  }
}

export class ConflictError extends AppError {
  constructor(message: string) {
    super(message, 'CONFLICT');
  }
}

export class QuotaExceededError extends AppError {
  constructor(tokensRemaining: number, tokensNeeded: number) {
    super(
      `This call may need up to ${tokensNeeded} tokens but only ${tokensRemaining} remain this period`,
      'QUOTA_EXCEEDED',
      { tokensRemaining, tokensNeeded },
    );
  }
}

export class RateLimitedError extends AppError {
  constructor(retryAfter: number) {
    super(`Too many requests; retry in ${retryAfter} s`, 'RATE_LIMITED', { retryAfter });
  }
}

export class UpstreamError extends AppError {
  constructor(message = 'The tool failed') {
    super(message, 'UPSTREAM_ERROR');
  }
}

export class UpstreamTimeoutError extends AppError {
  constructor(message = 'The tool did not answer in time') {
    super(message, 'UPSTREAM_TIMEOUT');
  }
}

export class QueryTooComplexError extends AppError {
  constructor(message: string, extra: Record<string, unknown> = {}) {
    super(message, 'QUERY_TOO_COMPLEX', extra);
  }
}

/** What SERVICE_UNAVAILABLE answers tell clients to wait, in seconds. */
export const SERVICE_RETRY_AFTER_SECONDS = 2;

/**
 * The database (or another dependency) is not answering, or the server is shedding load: retry
 * after `retryAfter` seconds. A response that carries no data because of it is HTTP 503 with
 * Retry-After (src/http/graphql-handler.ts).
 */
export class ServiceUnavailableError extends AppError {
  constructor(
    message = 'The service is temporarily unavailable; retry shortly',
    retryAfter = SERVICE_RETRY_AFTER_SECONDS,
  ) {
    super(message, 'SERVICE_UNAVAILABLE', { retryAfter });
  }
}
