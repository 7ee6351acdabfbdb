import { EntityRepository } from '@mikro-orm/postgresql';
import type { ViewerAccount } from '../auth/viewer';
import { Coalescer } from '../db/coalesce';
import { query } from '../db/query';
import type { ApiKey } from './api-key.entity';
import type { ApiKeyScope } from './enums';
import { toViewerAccount, VIEWER_ACCOUNT_COLUMNS, type ViewerAccountRow } from './user.repository';

/** An unrevoked key of an active account, with that account, as a request authenticates. */
export interface ActiveApiKey {
  id: string;
  secretHash: string;
  scopes: ApiKeyScope[];
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  account: ViewerAccount;
}

/** `api_key_account` (migration 20261202040000): calls by concurrent requests go together. */
const API_KEY_ACCOUNTS = new Coalescer({ name: 'api_key_account', types: ['text'] });

export class ApiKeyRepository extends EntityRepository<ApiKey> {
  /**
   * The key with `prefix` if it is not revoked and its owner is active, with the owner. Through
   * `api_key_account` (migration 20261202040000), this statement with a plan PostgreSQL keeps per
   * connection, with the calls of concurrent requests (db/coalesce.ts); `asText` sends the
   * statement itself.
   */
  async activeByPrefix(prefix: string, asText = false): Promise<ActiveApiKey | null> {
    const em = this.getEntityManager();
    const rows = (
      asText
        ? await query(
            em,
            `select k.id as key_id, k.secret_hash, k.scopes, k.expires_at, k.last_used_at,
                    ${VIEWER_ACCOUNT_COLUMNS}
               from api_keys k join users u on u.id = k.user_id
              where k.prefix = ? and k.revoked_at is null and u.is_active`,
            [prefix],
          )
        : await API_KEY_ACCOUNTS.call(em, [prefix])
    ) as (ViewerAccountRow & {
      key_id: string;
      secret_hash: string;
      scopes: ApiKeyScope[];
      expires_at: Date | null;
      last_used_at: Date | null;
    })[];
    const row = rows[0];
    if (!row) return null;
    return {
      id: row.key_id,
      secretHash: row.secret_hash,
      scopes: row.scopes,
      expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
      lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at),
      account: toViewerAccount(row),
    };
  }

  /** Sets the key's last use to `now` unless another request set it since `staleBefore`. */
  async touch(id: string, now: Date, staleBefore: Date): Promise<void> {
    await query(
      this.getEntityManager(),
      `update api_keys set last_used_at = ? where id = ? and (last_used_at is null or last_used_at < ?)`,
      [now, id, staleBefore],
    );
  }
}
