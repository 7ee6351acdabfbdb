import { EntityRepository } from '@mikro-orm/postgresql';
import type { IdempotentRequest } from './idempotent-request.entity';
import { query } from '../db/query';

/** How long a stored response is replayed. */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;

export interface StoredResponse {
  requestHash: string;
  status: number;
  body: string;
}

/** Stored responses of mutations sent with an Idempotency-Key header. */
export class IdempotentRequestRepository extends EntityRepository<IdempotentRequest> {
  /**
   * Takes `key` for this request in the current transaction, or reports that it is taken (null).
   * A concurrent duplicate's insert waits here until the first request's transaction ends: it
   * then sees the stored response (the first committed) or takes the key (it rolled back). An
   * entry past its 24 hours is taken over.
   */
  async claim(caller: string, key: string, requestHash: string, now: Date): Promise<boolean> {
    const rows: unknown[] = await query(
      this.em,
      `insert into idempotent_requests (caller, key, request_hash, status, body, created_at)
       values (?, ?, ?, 0, '', ?)
       on conflict (caller, key) do update
          set request_hash = excluded.request_hash, status = 0, body = '',
              created_at = excluded.created_at
        where idempotent_requests.created_at < ?
       returning 1`,
      [caller, key, requestHash, now, new Date(now.getTime() - IDEMPOTENCY_TTL_MS)],
    );
    return rows.length > 0;
  }

  async stored(caller: string, key: string): Promise<StoredResponse | null> {
    const rows: { request_hash: string; status: number; body: string }[] = await query(
      this.em,
      `select request_hash, status, body from idempotent_requests where caller = ? and key = ?`,
      [caller, key],
    );
    const row = rows[0];
    return row ? { requestHash: row.request_hash, status: row.status, body: row.body } : null;
  }

  async complete(caller: string, key: string, status: number, body: string): Promise<void> {
    await query(
      this.em,
      `update idempotent_requests set status = ?, body = ? where caller = ? and key = ?`,
      [status, body, caller, key],
    );
  }

  /** Forgets responses past their 24 hours; the number removed. */
  async expire(now: Date): Promise<number> {
    const rows: unknown[] = await query(
      this.em,
      `delete from idempotent_requests where created_at < ? returning 1`,
      [new Date(now.getTime() - IDEMPOTENCY_TTL_MS)],
    );
    return rows.length;
  }
}
