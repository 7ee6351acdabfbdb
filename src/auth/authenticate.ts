import type { EntityManager } from '@mikro-orm/postgresql';
import { ApiKey, User } from '../entities';
import { isUuid } from '../lib/ids';
import { unverifiedViewer } from './session-check';
import { AccessTokens, parseApiKey, safeEqualHex, sha256 } from './tokens';
import { ANONYMOUS, INVALID_CREDENTIALS, type Viewer } from './viewer';

const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * Turns an Authorization header into a viewer: a JWT access token, then an API key. Every
 * strategy reads the account in the same statement, so a deactivation, a role change, a
 * revoked session or key applies at the next request. A bad credential never throws here: it
 * yields an anonymous viewer marked invalid, and the permission rules decide.
 */
export class Authenticator {
  constructor(private readonly accessTokens: AccessTokens) {}

  /**
   * When `canDeferSessionCheck()` says so (asked for a valid access token only), the token's
   * session is not read here: the viewer is `unverified` and the request's one statement checks
   * it (./session-check.ts).
   */
  async authenticate(
    em: EntityManager,
    header: string | undefined,
    now: Date,
    canDeferSessionCheck: () => boolean = () => false,
  ): Promise<Viewer> {
    if (!header) return ANONYMOUS;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) return INVALID_CREDENTIALS;
    const credential = match[1]!;
    if (credential.startsWith('sk_')) return this.fromApiKey(em, credential, now);
    return this.fromAccessToken(em, credential, canDeferSessionCheck);
  }

  private async fromAccessToken(
    em: EntityManager,
    token: string,
    canDeferSessionCheck: () => boolean,
  ): Promise<Viewer> {
    const claims = this.accessTokens.verify(token);
    if (!claims || !isUuid(claims.sub) || !isUuid(claims.sid)) return INVALID_CREDENTIALS;
    if (canDeferSessionCheck()) return unverifiedViewer(claims.sub, claims.sid);
    const account = await em.getRepository(User).activeBySession(claims.sub, claims.sid);
    if (!account) return INVALID_CREDENTIALS;
    return { kind: 'user', via: 'jwt', account, sessionId: claims.sid };
  }

  private async fromApiKey(em: EntityManager, credential: string, now: Date): Promise<Viewer> {
    const parsed = parseApiKey(credential);
    if (!parsed) return INVALID_CREDENTIALS;
    const keys = em.getRepository(ApiKey);
    const key = await keys.activeByPrefix(parsed.prefix);
    if (!key || !safeEqualHex(sha256(parsed.secret), key.secretHash)) return INVALID_CREDENTIALS;
    if (key.expiresAt && key.expiresAt.getTime() <= now.getTime()) return INVALID_CREDENTIALS;
    if (!key.lastUsedAt || now.getTime() - key.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
      // At most one write a minute per key, and only when this request found it stale.
      await keys.touch(key.id, now, new Date(now.getTime() - LAST_USED_RESOLUTION_MS));
    }
    return {
      kind: 'user',
      via: 'apiKey',
      account: key.account,
      apiKeyId: key.id,
      scopes: new Set(key.scopes),
    };
  }
}
