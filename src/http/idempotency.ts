import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Viewer } from '../auth/viewer';
import { isDatabaseUnavailable } from '../db/unavailable';
import { IdempotentRequest } from '../entities';
import { SERVICE_RETRY_AFTER_SECONDS } from '../errors';
import type { Clock } from '../lib/clock';
import { rootOperation } from './operation';

/** What the header may hold: 1 to 200 printable ASCII characters (as invokeTool's key). */
const KEY = /^[\x21-\x7e]{1,200}$/;

/** Answers that say "nothing happened, try again": never stored, so a retry runs for real. */
const RETRYABLE = /"code":"(SERVICE_UNAVAILABLE|INTERNAL_SERVER_ERROR|RATE_LIMITED)"/;

export interface IdempotentPlan {
  kind: 'transaction';
  key: string;
  /** The body's hash (query, variables, operation name). */
  hash: string;
}

/**
 * Who sends a request, as its credential says now (read in the request's transaction): the
 * key's scope (`u:` user, `k:` API key, `a:` address of an anonymous caller) and whether the
 * account is an ADMIN; null when a credential was sent and is not (or no longer) good.
 */
export type Caller = { scope: string; admin: boolean } | null;

export interface SimpleResponse {
  status: number;
  headers: [string, string][];
  body: string;
}

/**
 * How a request carrying `Idempotency-Key` is run (the contract's Transport section):
 * - not a mutation, or a document that does not parse: as any other request (Apollo answers);
 * - a mutation calling `invokeTool`: the key becomes invokeTool's own `idempotencyKey` (which
 *   holds a call once across its reservation, the upstream call and the charge) — `tool` mode;
 * - any other mutation: in one transaction with its stored answer — `transaction` mode.
 * Returns the refusal of a malformed key as an error message, or the mode.
 */
export function planIdempotency(
  key: string,
  body: unknown,
): { error: string } | { kind: 'plain' } | { kind: 'tool'; key: string } | IdempotentPlan {
  if (!KEY.test(key)) {
    return { error: 'Idempotency-Key must be 1 to 200 printable ASCII characters' };
  }
  const params = (body ?? {}) as { query?: unknown; operationName?: unknown; variables?: unknown };
  const root = rootOperation(params.query, params.operationName);
  if (!root || root.operation.operation !== 'mutation') return { kind: 'plain' };
  if (root.fields.has('invokeTool')) return { kind: 'tool', key };
  const hash = createHash('sha256')
    .update(JSON.stringify([params.query, params.variables ?? null, params.operationName ?? null]))
    .digest('hex');
  return { kind: 'transaction', key, hash };
}

/** The coded error response of this layer. */
export function errorResponse(
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): SimpleResponse {
  return {
    status,
    headers: [['content-type', 'application/json; charset=utf-8']],
    body: JSON.stringify({ errors: [{ message, extensions: { code, ...extra } }] }),
  };
}

/**
 * Runs a mutation once per (caller, key): the claim of the key, the mutation's writes and its
 * stored answer share one transaction, so a committed answer means the write happened and a
 * rolled-back one that it did not. A duplicate sent while the first runs waits for it (its
 * claim waits on the first's uncommitted row) and gets the stored answer; a duplicate with
 * another body is CONFLICT. Answers that mean "retry" (SERVICE_UNAVAILABLE, RATE_LIMITED,
 * INTERNAL_SERVER_ERROR, request-level 4xx) roll everything back and are not stored.
 *
 * The caller is identified first, in the transaction (`identify`), exactly as the request's
 * own credential check does: a signed-out session, a deactivated account or a revoked API key
 * gets no stored answer (`'plain'`: the request then runs as any other, and is refused as any
 * other). An ADMIN's request is another request than the same body sent as a USER: a role
 * changed between a request and its retry makes the retry CONFLICT, neither replayed (the
 * contract: a role change takes effect at the next request) nor run a second time.
 */
export async function runIdempotently(
  em: EntityManager,
  plan: IdempotentPlan,
  clock: Clock,
  identify: (em: EntityManager) => Promise<Caller>,
  execute: (em: EntityManager) => Promise<SimpleResponse>,
): Promise<SimpleResponse | 'plain'> {
  const repo = em.getRepository(IdempotentRequest);
  try {
    await em.begin();
  } catch (err) {
    if (isDatabaseUnavailable(err)) return unavailable();
    throw err;
  }
  let open = true;
  const rollback = async () => {
    if (!open) return;
    open = false;
    await em.rollback().catch(() => undefined);
  };
  try {
    const caller = await identify(em);
    if (!caller) {
      await rollback();
      return 'plain';
    }
    // A USER's and an anonymous caller's hash is the body's alone, as stored before roles counted.
    const hash = caller.admin
      ? createHash('sha256').update(`${plan.hash}\nADMIN`).digest('hex')
      : plan.hash;
    if (!(await repo.claim(caller.scope, plan.key, hash, clock.now()))) {
      const stored = await repo.stored(caller.scope, plan.key);
      await rollback();
      if (!stored) return unavailable();
      if (stored.requestHash !== hash) {
        return errorResponse(
          409,
          'CONFLICT',
          'This Idempotency-Key was used with a different request body, or by this account in another role',
        );
      }
      return {
        status: stored.status,
        headers: [
          ['content-type', 'application/json; charset=utf-8'],
          ['idempotent-replayed', 'true'],
        ],
        body: stored.body,
      };
    }
    const response = await execute(em);
    if (response.status >= 400 || RETRYABLE.test(response.body)) {
      await rollback();
      return response;
    }
    await repo.complete(caller.scope, plan.key, response.status, response.body);
    open = false;
    await em.commit();
    return response;
  } catch (err) {
    await rollback();
    if ((err as { code?: string }).code === '55P03') {
      // The first request with this key holds it longer than the lock timeout.
      return errorResponse(
        409,
        'CONFLICT',
        'A request with this Idempotency-Key is still in progress; retry shortly',
      );
    }
    if (isDatabaseUnavailable(err)) return unavailable();
    throw err;
  }
}

function unavailable(): SimpleResponse {
  const response = errorResponse(
    503,
    'SERVICE_UNAVAILABLE',
    'The database is not answering; nothing was written, retry with the same Idempotency-Key',
    { retryAfter: SERVICE_RETRY_AFTER_SECONDS },
  );
  response.headers.push(['retry-after', String(SERVICE_RETRY_AFTER_SECONDS)]);
  return response;
}

/**
 * The key's scope for a viewer just authenticated from the request's credential: the user, the
 * API key (by its public prefix), or the address; null for a credential that is not good.
 */
export function callerOf(viewer: Viewer, address: string, apiKeyPrefix: string | null): Caller {
  if (viewer.kind === 'anonymous') {
    return viewer.reason === 'invalid' ? null : { scope: `a:${address}`, admin: false };
  }
  if (viewer.via === 'apiKey') {
    return apiKeyPrefix ? { scope: `k:${apiKeyPrefix}`, admin: false } : null;
  }
  return { scope: `u:${viewer.account.id}`, admin: viewer.account.role === 'ADMIN' };
}
