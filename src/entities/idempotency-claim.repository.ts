import { EntityRepository } from '@mikro-orm/postgresql';
import { query } from '../db/query';
import type { IdempotencyClaim } from './idempotency-claim.entity';

/** What a duplicate waiting on a key sees, read in one snapshot. */
export interface ClaimOutcome {
  /** The usage record that holds the key: the call succeeded. */
  recordId: string | null;
  /** The request hash of the claim, while there is one. */
  claimHash: string | null;
  /** The code the call failed with, left on its claim. */
  errorCode: string | null;
}

/** Keys of tool calls in flight (see the entity). */
export class IdempotencyClaimRepository extends EntityRepository<IdempotencyClaim> {
  /**
   * Takes `key` for a call, or reports that it is taken (false). A claim created before
   * `staleBefore` (its process died mid-call), or one left with an error, is taken over.
   */
  async claim(
    userId: string,
    key: string,
    requestHash: string,
    now: Date,
    staleBefore: Date,
  ): Promise<boolean> {
    const rows: unknown[] = await query(
      this.getEntityManager(),
      `insert into idempotency_claims (user_id, key, request_hash, created_at) values (?, ?, ?, ?)
       on conflict (user_id, key) do update
          set request_hash = excluded.request_hash, created_at = excluded.created_at,
              error_code = null
        where idempotency_claims.created_at < ? or idempotency_claims.error_code is not null
       returning user_id`,
      [userId, key, requestHash, now, staleBefore],
    );
    return rows.length > 0;
  }

  async release(userId: string, key: string): Promise<void> {
    await query(
      this.getEntityManager(),
      `delete from idempotency_claims where user_id = ? and key = ?`,
      [userId, key],
    );
  }

  /** Leaves the code a call failed with on its claim. */
  async fail(userId: string, key: string, errorCode: string): Promise<void> {
    await query(
      this.getEntityManager(),
      `update idempotency_claims set error_code = ? where user_id = ? and key = ?`,
      [errorCode, userId, key],
    );
  }

  /** The usage record that holds `key` and the key's claim, in one statement (one snapshot). */
  async outcome(userId: string, key: string): Promise<ClaimOutcome> {
    const rows: {
      record_id: string | null;
      claim_hash: string | null;
      error_code: string | null;
    }[] = await query(
      this.getEntityManager(),
      `select r.id as record_id, c.request_hash as claim_hash, c.error_code
         from (select 1) as one
         left join usage_records r on r.user_id = ? and r.idempotency_key = ?
         left join idempotency_claims c on c.user_id = ? and c.key = ?`,
      [userId, key, userId, key],
    );
    const row = rows[0]!;
    return { recordId: row.record_id, claimHash: row.claim_hash, errorCode: row.error_code };
  }
}
