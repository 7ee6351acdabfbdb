import jwt from 'jsonwebtoken';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors } from '../helpers/graphql';
import {
  ChangePasswordDocument,
  LoginDocument,
  LoginTokensDocument,
  LogoutAllDocument,
  LogoutDocument,
  MeDocument,
  RefreshTokenDocument,
  UpdateProfileDocument,
} from '../helpers/graphql-types';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('access tokens', () => {
  it('refuses no token, garbage, alg none, another algorithm, wrong issuer/audience, bad signature and expiry', async () => {
    const u = await t.seed.user();
    const secret = 'test-secret-0123456789-abcdefghijklmnop';
    const payload = jwt.decode(u.accessToken) as Record<string, unknown>;
    const claims = { sid: payload.sid, sub: payload.sub };
    const forged = [
      'garbage',
      `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...claims, iss: 'switchboard', aud: 'switchboard-api', exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url')}.`,
      jwt.sign(claims, secret, {
        algorithm: 'HS512',
        issuer: 'switchboard',
        audience: 'switchboard-api',
        expiresIn: 600,
      }),
      jwt.sign(claims, secret, {
        algorithm: 'HS256',
        issuer: 'someone-else',
        audience: 'switchboard-api',
        expiresIn: 600,
      }),
      jwt.sign(claims, secret, {
        algorithm: 'HS256',
        issuer: 'switchboard',
        audience: 'another-api',
        expiresIn: 600,
      }),
      jwt.sign(claims, 'a-different-secret-0123456789abcdef', {
        algorithm: 'HS256',
        issuer: 'switchboard',
        audience: 'switchboard-api',
        expiresIn: 600,
      }),
      jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 }, secret, {
        algorithm: 'HS256',
        issuer: 'switchboard',
        audience: 'switchboard-api',
      }),
    ];
    expectErrorCode(await t.gql(MeDocument), 'UNAUTHENTICATED');
    for (const token of forged) {
      expectErrorCode(await t.gql(MeDocument, {}, token), 'UNAUTHENTICATED');
    }
    // The same claims, signed properly, are accepted: the refusals above are about the token.
    const good = jwt.sign(claims, secret, {
      algorithm: 'HS256',
      issuer: 'switchboard',
      audience: 'switchboard-api',
      expiresIn: 600,
    });
    expect(expectNoErrors(await t.gql(MeDocument, {}, good)).me.id).toBe(u.id);
  });

  it('refuses a token signed with the server key that says no expiry or no issue time', async () => {
    const u = await t.seed.user();
    const secret = 'test-secret-0123456789-abcdefghijklmnop';
    const payload = jwt.decode(u.accessToken) as Record<string, unknown>;
    const options = { algorithm: 'HS256', issuer: 'switchboard', audience: 'switchboard-api' };
    const claims = { sid: payload.sid, sub: payload.sub };
    const now = Math.floor(Date.now() / 1000);
    const noExp = jwt.sign(claims, secret, options as jwt.SignOptions);
    const noIat = jwt.sign({ ...claims, exp: now + 600 }, secret, {
      ...(options as jwt.SignOptions),
      noTimestamp: true,
    });
    expect(jwt.decode(noExp)).not.toHaveProperty('exp');
    expect(jwt.decode(noIat)).not.toHaveProperty('iat');
    expectErrorCode(await t.gql(MeDocument, {}, noExp), 'UNAUTHENTICATED');
    expectErrorCode(await t.gql(MeDocument, {}, noIat), 'UNAUTHENTICATED');
    // With both, the same claims pass: the refusals are about the missing times.
    const both = jwt.sign(
      { ...claims, iat: now, exp: now + 600 },
      secret,
      options as jwt.SignOptions,
    );
    expectNoErrors(await t.gql(MeDocument, {}, both));
  });

  it('refuses a token signed with the server key that lives longer than it issues, comes from the future, or is critical', async () => {
    // The claims of a real session, signed here with the server's key (the test config's).
    const u = await t.seed.user();
    const { sid, sub } = jwt.decode(u.accessToken) as Record<string, unknown>;
    const now = Math.floor(Date.now() / 1000);
    const sign = (times: { iat: number; exp: number }, extra: jwt.SignOptions = {}) =>
      jwt.sign({ sid, sub, ...times }, 'test-secret-0123456789-abcdefghijklmnop', {
        algorithm: 'HS256',
        issuer: 'switchboard',
        audience: 'switchboard-api',
        ...extra,
      });
    // The server issues 15-minute tokens (ACCESS_TOKEN_TTL_SECONDS 900).
    const tenYears = sign({ iat: now, exp: now + 10 * 365 * 86_400 });
    const future = sign({ iat: now + 3_600, exp: now + 3_900 });
    const critical = sign(
      { iat: now, exp: now + 600 },
      { header: { alg: 'HS256', typ: 'JWT', crit: ['x-unknown'] } as jwt.JwtHeader },
    );
    for (const token of [tenYears, future, critical]) {
      expectErrorCode(await t.gql(MeDocument, {}, token), 'UNAUTHENTICATED');
    }
    // Within the TTL (and a minute of skew), issued a little ahead: accepted.
    expectNoErrors(await t.gql(MeDocument, {}, sign({ iat: now + 30, exp: now + 930 })));
  });

  it('a token already accepted (verified tokens are remembered) still stops at its expiry and at logout', async () => {
    const u = await t.seed.user();
    const secret = 'test-secret-0123456789-abcdefghijklmnop';
    const payload = jwt.decode(u.accessToken) as Record<string, unknown>;
    const now = Math.floor(Date.now() / 1000);
    // Expires at the start of the second after next: accepted now, refused from then on.
    const exp = now + 2;
    const short = jwt.sign({ sid: payload.sid, sub: payload.sub, iat: now, exp }, secret, {
      algorithm: 'HS256',
      issuer: 'switchboard',
      audience: 'switchboard-api',
    });
    expect(expectNoErrors(await t.gql(MeDocument, {}, short)).me.id).toBe(u.id);
    expectNoErrors(await t.gql(MeDocument, {}, short));
    await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 50));
    expectErrorCode(await t.gql(MeDocument, {}, short), 'UNAUTHENTICATED');
    // The session's end applies to a remembered token at once.
    expectNoErrors(await t.gql(MeDocument, {}, u.accessToken));
    expectNoErrors(await t.gql(LogoutDocument, { t: u.refreshToken }, u.accessToken));
    expectErrorCode(await t.gql(MeDocument, {}, u.accessToken), 'UNAUTHENTICATED');
  });
});

describe('refresh tokens', () => {
  it('rotates: the new pair works, the old refresh token stops working', async () => {
    const u = await t.seed.user();
    const first = expectNoErrors(await t.gql(RefreshTokenDocument, { t: u.refreshToken }));
    expect(first.refreshToken.refreshToken).not.toBe(u.refreshToken);
    expectNoErrors(await t.gql(MeDocument, {}, first.refreshToken.accessToken));
    const second = expectNoErrors(
      await t.gql(RefreshTokenDocument, { t: first.refreshToken.refreshToken }),
    );
    expectNoErrors(await t.gql(MeDocument, {}, second.refreshToken.accessToken));
  });

  it('revokes the whole session when a rotated token is presented again', async () => {
    const u = await t.seed.user();
    const rotated = expectNoErrors(await t.gql(RefreshTokenDocument, { t: u.refreshToken }));
    expectErrorCode(await t.gql(RefreshTokenDocument, { t: u.refreshToken }), 'UNAUTHENTICATED');
    // Every token descended from that login is dead, access token included.
    expectErrorCode(
      await t.gql(RefreshTokenDocument, { t: rotated.refreshToken.refreshToken }),
      'UNAUTHENTICATED',
    );
    expectErrorCode(
      await t.gql(MeDocument, {}, rotated.refreshToken.accessToken),
      'UNAUTHENTICATED',
    );
  });

  it('lets only one of two concurrent uses of the same token win, and then revokes the session', async () => {
    const u = await t.seed.user();
    const [a, b] = await Promise.all([
      t.gql(RefreshTokenDocument, { t: u.refreshToken }),
      t.gql(RefreshTokenDocument, { t: u.refreshToken }),
    ]);
    const ok = [a, b].filter((r) => !r.errors);
    expect(ok.length).toBeLessThanOrEqual(1);
    if (ok[0]) {
      const next = ok[0].data!.refreshToken.refreshToken;
      expectErrorCode(await t.gql(RefreshTokenDocument, { t: next }), 'UNAUTHENTICATED');
    }
  });

  it('refuses unknown refresh tokens', async () => {
    expectErrorCode(await t.gql(RefreshTokenDocument, { t: 'x'.repeat(43) }), 'UNAUTHENTICATED');
  });
});

describe('logout, logoutAll, changePassword, profile', () => {
  it('logout ends one session and leaves the others', async () => {
    const u = await t.seed.user();
    const other = expectNoErrors(
      await t.gql(LoginTokensDocument, {
        i: { email: u.email, password: u.password },
      }),
    ).login;
    const res = expectNoErrors(await t.gql(LogoutDocument, { t: u.refreshToken }, u.accessToken));
    expect(res.logout).toBe(true);
    expectErrorCode(await t.gql(RefreshTokenDocument, { t: u.refreshToken }), 'UNAUTHENTICATED');
    expectErrorCode(await t.gql(MeDocument, {}, u.accessToken), 'UNAUTHENTICATED');
    expectNoErrors(await t.gql(MeDocument, {}, other.accessToken));
    expectNoErrors(await t.gql(RefreshTokenDocument, { t: other.refreshToken }));
  });

  it('logout of someone else’s refresh token does nothing', async () => {
    const a = await t.seed.user();
    const b = await t.seed.user();
    const res = expectNoErrors(await t.gql(LogoutDocument, { t: b.refreshToken }, a.accessToken));
    expect(res.logout).toBe(false);
    expectNoErrors(await t.gql(RefreshTokenDocument, { t: b.refreshToken }));
  });

  it('logoutAll revokes every session of the caller', async () => {
    const u = await t.seed.user();
    const other = expectNoErrors(
      await t.gql(LoginTokensDocument, {
        i: { email: u.email, password: u.password },
      }),
    ).login;
    expectNoErrors(await t.gql(LogoutAllDocument, {}, u.accessToken));
    expectErrorCode(await t.gql(RefreshTokenDocument, { t: u.refreshToken }), 'UNAUTHENTICATED');
    expectErrorCode(
      await t.gql(RefreshTokenDocument, { t: other.refreshToken }),
      'UNAUTHENTICATED',
    );
  });

  it('changePassword needs the current password, then keeps only the caller’s session', async () => {
    const u = await t.seed.user();
    const other = expectNoErrors(
      await t.gql(LoginTokensDocument, {
        i: { email: u.email, password: u.password },
      }),
    ).login;
    const wrong = expectErrorCode(
      await t.gql(
        ChangePasswordDocument,
        { i: { currentPassword: 'nope-nope-nope', newPassword: 'new-password-1' } },
        u.accessToken,
      ),
      'BAD_USER_INPUT',
    );
    expect(wrong.extensions?.fields).toContain('currentPassword');
    expectErrorCode(
      await t.gql(
        ChangePasswordDocument,
        { i: { currentPassword: u.password, newPassword: 'short' } },
        u.accessToken,
      ),
      'BAD_USER_INPUT',
    );
    expectNoErrors(
      await t.gql(
        ChangePasswordDocument,
        { i: { currentPassword: u.password, newPassword: 'new-password-1' } },
        u.accessToken,
      ),
    );
    expectNoErrors(await t.gql(MeDocument, {}, u.accessToken));
    expectNoErrors(await t.gql(RefreshTokenDocument, { t: u.refreshToken }));
    expectErrorCode(await t.gql(MeDocument, {}, other.accessToken), 'UNAUTHENTICATED');
    expectErrorCode(
      await t.gql(RefreshTokenDocument, { t: other.refreshToken }),
      'UNAUTHENTICATED',
    );
    expectErrorCode(
      await t.gql(LoginDocument, { i: { email: u.email, password: u.password } }),
      'UNAUTHENTICATED',
    );
    expectNoErrors(
      await t.gql(LoginDocument, { i: { email: u.email, password: 'new-password-1' } }),
    );
  });

  it('updateProfile changes the name and refuses a blank one without writing', async () => {
    const u = await t.seed.user();
    expect(
      expectNoErrors(await t.gql(UpdateProfileDocument, { i: { name: '  Bea  ' } }, u.accessToken))
        .updateProfile.name,
    ).toBe('Bea');
    expectErrorCode(
      await t.gql(UpdateProfileDocument, { i: { name: '   ' } }, u.accessToken),
      'BAD_USER_INPUT',
    );
    expect(expectNoErrors(await t.gql(MeDocument, {}, u.accessToken)).me.name).toBe('Bea');
  });

  it('refuses session management to anonymous callers', async () => {
    expectErrorCode(await t.gql(LogoutAllDocument), 'UNAUTHENTICATED');
    expectErrorCode(
      await t.gql(ChangePasswordDocument, { i: { currentPassword: 'a', newPassword: 'bbbbbbbb' } }),
      'UNAUTHENTICATED',
    );
  });
});
