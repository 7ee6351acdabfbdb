import type { EntityManager } from '@mikro-orm/postgresql';
import type { ApiKeyScope, Role } from '../entities/enums';
import { isUuid } from '../lib/ids';
import { AccessTokens, parseApiKey, safeEqualHex, sha256 } from './tokens';
import { ANONYMOUS, INVALID_CREDENTIALS, type Viewer, type ViewerAccount } from './viewer';
import { query } from '../db/query';

const LAST_USED_RESOLUTION_MS = 60_000;

const ACCOUNT_COLUMNS = 'u.id, u.email, u.name, u.role, u.is_active, u.created_at, u.updated_at';

interface AccountRow {
  id: string;
  email: string;
  name: string;
  role: Role;
  is_active: boolean;
  created_at: Date;
  updated_at: Date;
}

function toAccount(row: AccountRow): ViewerAccount {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    isActive: row.is_active,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/**
 * Turns an Authorization header into a viewer: a JWT access token, then an API key. Every
 * strategy reads the account in the same statement, so a deactivation, a role change, a
 * revoked session or key applies at the next request. A bad credential never throws here: it
 * yields an anonymous viewer marked invalid, and the permission rules decide.
 */
export class Authenticator {
  constructor(private readonly accessTokens: AccessTokens) {}

  async authenticate(em: EntityManager, header: string | undefined, now: Date): Promise<Viewer> {
    if (!header) return ANONYMOUS;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) return INVALID_CREDENTIALS;
    const credential = match[1]!;
    if (credential.startsWith('sk_')) return this.fromApiKey(em, credential, now);
    return this.fromAccessToken(em, credential);
  }

  private async fromAccessToken(em: EntityManager, token: string): Promise<Viewer> {
    const claims = this.accessTokens.verify(token);
    if (!claims || !isUuid(claims.sub) || !isUuid(claims.sid)) return INVALID_CREDENTIALS;
    const rows: AccountRow[] = await query(
      em,
      `select ${ACCOUNT_COLUMNS} from users u
         join auth_sessions s on s.user_id = u.id and s.id = ? and s.revoked_at is null
        where u.id = ? and u.is_active`,
      [claims.sid, claims.sub],
    );
    const row = rows[0];
    if (!row) return INVALID_CREDENTIALS;
    return { kind: 'user', via: 'jwt', account: toAccount(row), sessionId: claims.sid };
  }

  private async fromApiKey(em: EntityManager, key: string, now: Date): Promise<Viewer> {
    const parsed = parseApiKey(key);
    if (!parsed) return INVALID_CREDENTIALS;
    const rows: (AccountRow & {
      key_id: string;
      secret_hash: string;
      scopes: ApiKeyScope[];
      expires_at: Date | null;
      last_used_at: Date | null;
    })[] = await query(
      em,
      `select k.id as key_id, k.secret_hash, k.scopes, k.expires_at, k.last_used_at,
              ${ACCOUNT_COLUMNS}
         from api_keys k join users u on u.id = k.user_id
        where k.prefix = ? and k.revoked_at is null and u.is_active`,
      [parsed.prefix],
    );
    const row = rows[0];
    if (!row || !safeEqualHex(sha256(parsed.secret), row.secret_hash)) return INVALID_CREDENTIALS;
    if (row.expires_at && new Date(row.expires_at).getTime() <= now.getTime()) {
      return INVALID_CREDENTIALS;
    }
    if (
      !row.last_used_at ||
      now.getTime() - new Date(row.last_used_at).getTime() >= LAST_USED_RESOLUTION_MS
    ) {
      // At most one write a minute per key, and only when this request found it stale.
      await query(
        em,
        `update api_keys set last_used_at = ? where id = ? and (last_used_at is null or last_used_at < ?)`,
        [now, row.key_id, new Date(now.getTime() - LAST_USED_RESOLUTION_MS)],
      );
    }
    return {
      kind: 'user',
      via: 'apiKey',
      account: toAccount(row),
      apiKeyId: row.key_id,
      scopes: new Set(row.scopes),
    };
  }
}
