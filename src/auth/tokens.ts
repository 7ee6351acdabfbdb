import {
  createHash,
  createSecretKey,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import jwt from 'jsonwebtoken';

export interface AccessTokenClaims {
  sub: string;
  sid: string;
}

export interface TokenSettings {
  secret: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

/** Clock skew allowed between the servers that sign and verify tokens. */
const CLOCK_SKEW_SECONDS = 60;

/** Short-lived HS256 access tokens; verification pins the algorithm, issuer and audience. */
export class AccessTokens {
  /**
   * Made once: given a string, jsonwebtoken builds a key object on every call (first trying,
   * and failing, to read it as a public key), which costs more than the HMAC itself.
   */
  private readonly key: KeyObject;
  /**
   * Tokens that verified, with their claims and expiry: a client sends the same token with
   * every request for its lifetime, and the signature check and claim parsing cost more than
   * the rest of authenticating. Only exact token strings that passed are kept; expiry is
   * checked on every use; revocation is not a property of the token (the session is read with
   * the account on every request). Bounded: the oldest entry goes first.
   */
  private readonly verified = new Map<string, { claims: AccessTokenClaims; exp: number }>();

  constructor(
    private readonly settings: TokenSettings,
    private readonly maxVerified = 10_000,
  ) {
    this.key = createSecretKey(Buffer.from(settings.secret, 'utf8'));
  }

  sign(userId: string, sessionId: string, now = new Date()): { token: string; expiresAt: Date } {
    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + this.settings.ttlSeconds;
    const token = jwt.sign({ sid: sessionId, iat, exp }, this.key, {
      algorithm: 'HS256',
      subject: userId,
      issuer: this.settings.issuer,
      audience: this.settings.audience,
    });
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /**
   * The claims, or null for any token that is not ours, is tampered with, has expired, or does
   * not say when it expires and when it was issued.
   */
  verify(token: string): AccessTokenClaims | null {
    const known = this.verified.get(token);
    if (known) {
      if (Math.floor(Date.now() / 1000) < known.exp) return known.claims;
      this.verified.delete(token);
      return null;
    }
    try {
      const { header, payload } = jwt.verify(token, this.key, {
        algorithms: ['HS256'],
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        complete: true,
      });
      // Extensions this server does not know must not be ignored (RFC 7515, 4.1.11).
      if ('crit' in header) return null;
      if (typeof payload !== 'object' || payload === null) return null;
      const { sub, sid, exp, iat } = payload as Record<string, unknown>;
      if (typeof sub !== 'string' || typeof sid !== 'string') return null;
      // jsonwebtoken accepts a token without `exp` as valid forever: ours always carry both.
      if (typeof exp !== 'number' || typeof iat !== 'number') return null;
      // Never longer-lived than what this server issues, never issued in the future (a minute
      // of clock skew either way): a token minted with a leaked key cannot outlive the TTL.
      const now = Math.floor(Date.now() / 1000);
      if (iat > now + CLOCK_SKEW_SECONDS) return null;
      if (exp - iat > this.settings.ttlSeconds + CLOCK_SKEW_SECONDS) return null;
      const claims = { sub, sid };
      if (this.verified.size >= this.maxVerified) {
        this.verified.delete(this.verified.keys().next().value as string);
      }
      this.verified.set(token, { claims, exp });
      return claims;
    } catch {
      return null;
    }
  }
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** A 256-bit random secret, URL-safe. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function safeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

const API_KEY = /^sk_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `sk_<prefix>_<secret>`: the prefix finds the row, the secret is compared by hash. */
export function generateApiKey(): { key: string; prefix: string; secretHash: string } {
  const bytes = randomBytes(12);
  let prefix = '';
  for (const b of bytes) prefix += ALPHANUMERIC[b % ALPHANUMERIC.length];
  const secret = randomSecret(32);
  return { key: `sk_${prefix}_${secret}`, prefix, secretHash: sha256(secret) };
}

export function parseApiKey(key: string): { prefix: string; secret: string } | null {
  const m = API_KEY.exec(key);
  return m ? { prefix: m[1]!, secret: m[2]! } : null;
}
