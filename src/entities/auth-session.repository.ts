import { EntityRepository } from '@mikro-orm/postgresql';
import { query } from '../db/query';
import type { AuthSession } from './auth-session.entity';

/** A refresh token as an exchange reads it: its session's state and its user's. */
export interface RefreshTokenState {
  id: string;
  sessionId: string;
  userId: string;
  expiresAt: Date;
  usedAt: Date | null;
  sessionRevokedAt: Date | null;
  userActive: boolean;
}

/** Sign-in sessions and their refresh tokens (each token belongs to one session's family). */
export class AuthSessionRepository extends EntityRepository<AuthSession> {
  /** The refresh token whose SHA-256 is `tokenHash`, with its session's and user's state. */
  async refreshToken(tokenHash: string): Promise<RefreshTokenState | null> {
    const rows: {
      id: string;
      session_id: string;
      expires_at: Date;
      used_at: Date | null;
      revoked_at: Date | null;
      user_id: string;
      is_active: boolean;
    }[] = await query(
      this.getEntityManager(),
      `select rt.id, rt.session_id, rt.expires_at, rt.used_at, s.revoked_at, u.id as user_id, u.is_active
         from refresh_tokens rt
         join auth_sessions s on s.id = rt.session_id
         join users u on u.id = s.user_id
        where rt.token_hash = ?`,
      [tokenHash],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      id: row.id,
      sessionId: row.session_id,
      userId: row.user_id,
      expiresAt: new Date(row.expires_at),
      usedAt: row.used_at === null ? null : new Date(row.used_at),
      sessionRevokedAt: row.revoked_at === null ? null : new Date(row.revoked_at),
      userActive: row.is_active,
    };
  }

  /** Marks the refresh token used; false if it already was (another exchange won). */
  async claimRefreshToken(id: string, now: Date): Promise<boolean> {
    const rows: unknown[] = await query(
      this.getEntityManager(),
      `update refresh_tokens set used_at = ? where id = ? and used_at is null returning id`,
      [now, id],
    );
    return rows.length > 0;
  }

  async revoke(sessionId: string, now: Date): Promise<void> {
    await query(
      this.getEntityManager(),
      `update auth_sessions set revoked_at = ? where id = ? and revoked_at is null`,
      [now, sessionId],
    );
  }

  /** Revokes the session of the refresh token `tokenHash` if it is `userId`'s and live; else false. */
  async revokeByRefreshToken(userId: string, tokenHash: string, now: Date): Promise<boolean> {
    const rows: unknown[] = await query(
      this.getEntityManager(),
      `update auth_sessions s set revoked_at = ?
         from refresh_tokens rt
        where rt.token_hash = ? and rt.session_id = s.id and s.user_id = ? and s.revoked_at is null
        returning s.id`,
      [now, tokenHash, userId],
    );
    return rows.length > 0;
  }

  /** Revokes every live session of `userId`. */
  async revokeAll(userId: string, now: Date): Promise<void> {
    await query(
      this.getEntityManager(),
      `update auth_sessions set revoked_at = ? where user_id = ? and revoked_at is null`,
      [now, userId],
    );
  }

  /** Revokes every live session of `userId` but `keep` (none kept when null). */
  async revokeOthers(userId: string, keep: string | null, now: Date): Promise<void> {
    await query(
      this.getEntityManager(),
      `update auth_sessions set revoked_at = ?
        where user_id = ? and revoked_at is null and id is distinct from ?`,
      [now, userId, keep],
    );
  }
}
