// The access-token check both peers make, the same as Switchboard's (src/auth/tokens.ts): HS256
// pinned, issuer and audience checked, `sub` and `sid` UUIDs, `exp` and `iat` present, the key
// object built once. What the peers do NOT do, and Switchboard does on every request: read the
// session and the user row (one statement: session not revoked, user active, its role). The
// peers trust a valid token as stateless-JWT deployments do (PostGraphile's own JWT support is
// stateless too), so they make one round trip to PostgreSQL fewer per request than Switchboard.
import { createSecretKey } from 'node:crypto';
import jwt from 'jsonwebtoken';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** `(authorizationHeader) => {sub, sid} | null`, with the settings Switchboard reads from env. */
export function makeTokenVerifier(env = process.env) {
  const secret = env.JWT_SECRET;
  if (!secret || secret.length < 32)
    throw new Error('JWT_SECRET: required (at least 32 characters)');
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  const options = {
    algorithms: ['HS256'],
    issuer: env.JWT_ISSUER || 'switchboard',
    audience: env.JWT_AUDIENCE || 'switchboard-api',
  };
  return function verify(header) {
    if (typeof header !== 'string') return null;
    const match = BEARER.exec(header);
    if (!match) return null;
    let payload;
    try {
      payload = jwt.verify(match[1], key, options);
    } catch {
      return null;
    }
    if (typeof payload !== 'object' || payload === null) return null;
    const { sub, sid, exp, iat } = payload;
    if (!UUID.test(sub ?? '') || !UUID.test(sid ?? '')) return null;
    if (typeof exp !== 'number' || typeof iat !== 'number') return null;
    return { sub, sid };
  };
}

/** Signs a token as Switchboard does (for check.mjs and the orchestrator). */
export function signAccessToken({
  secret,
  userId,
  sessionId,
  ttlSeconds = 3600,
  now = Date.now(),
}) {
  const iat = Math.floor(now / 1000);
  return jwt.sign({ sid: sessionId, iat, exp: iat + ttlSeconds }, secret, {
    algorithm: 'HS256',
    subject: userId,
    issuer: 'switchboard',
    audience: 'switchboard-api',
  });
}
