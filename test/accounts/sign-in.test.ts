import bcrypt from 'bcryptjs';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, untyped } from '../helpers/graphql';
import {
  ChangePasswordDocument,
  LoginDocument,
  MyPlanDocument,
  RefreshTokenDocument,
  RegisterDocument,
  RegisterWithUserDocument,
  UserCountDocument,
} from '../helpers/graphql-types';
import { unique } from '../helpers/seed';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('register and login', () => {
  it('registers on FREE, lower-cases the email and signs in', async () => {
    const email = `${unique()}@Example.COM`;
    const res = await t.gql(RegisterWithUserDocument, {
      i: { email, password: 'password-123', name: 'Ann' },
    });
    const data = expectNoErrors(res);
    expect(data.register.user.email).toBe(email.toLowerCase());
    expect(data.register.user.role).toBe('USER');
    const ttl = new Date(data.register.accessTokenExpiresAt).getTime() - Date.now();
    expect(ttl).toBeGreaterThan(14 * 60_000);
    expect(ttl).toBeLessThanOrEqual(15 * 60_000);
    const me = expectNoErrors(await t.gql(MyPlanDocument, {}, data.register.accessToken));
    expect(me.me.email).toBe(email.toLowerCase());
    expect(me.me.subscription).toEqual({ plan: { tier: 'FREE' }, tokensUsed: 0 });
  });

  it('treats a full-width (compatibility) spelling of an email as the same address', async () => {
    const u = await t.seed.user();
    // The first letter full-width (U+FF41.. for a..): valid as an email, the same after NFKC.
    const fullWidth = String.fromCharCode(u.email.charCodeAt(0) + 0xfee0) + u.email.slice(1);
    expect(fullWidth).not.toBe(u.email);
    expectErrorCode(
      await t.gql(RegisterDocument, {
        i: { email: fullWidth, password: 'password-123', name: 'Twin' },
      }),
      'CONFLICT',
    );
    expectNoErrors(
      await t.gql(LoginDocument, {
        i: { email: fullWidth, password: u.password },
      }),
    );
  });

  it('refuses a second registration of the same email in any case with CONFLICT', async () => {
    const u = await t.seed.user();
    const res = await t.gql(RegisterDocument, {
      i: { email: u.email.toUpperCase(), password: 'password-123', name: 'Dup' },
    });
    expectErrorCode(res, 'CONFLICT');
  });

  it.each([
    [{ email: 'not-an-email', password: 'password-123', name: 'A' }, 'email'],
    [{ email: 'a\ud800@b.io', password: 'password-123', name: 'A' }, 'email'],
    // Invisible characters: a look-alike of another account's address.
    [{ email: 'dup\u200b@b.io', password: 'password-123', name: 'A' }, 'email'],
    [{ email: 'dup\u2060x@b.io', password: 'password-123', name: 'A' }, 'email'],
    [{ email: 'dup\u00adx@b.io', password: 'password-123', name: 'A' }, 'email'],
    [{ email: 'a@b.io', password: 'password-\udfff', name: 'A' }, 'password'],
    [{ email: 'a@b.io', password: 'password-123', name: 'A\u0000' }, 'name'],
    [{ email: 'a@b.io', password: 'short', name: 'A' }, 'password'],
    [{ email: 'a@b.io', password: 'x'.repeat(129), name: 'A' }, 'password'],
    [{ email: 'a@b.io', password: 'password-123', name: '' }, 'name'],
    [{ email: 'a@b.io', password: 'password-123', name: 'n'.repeat(101) }, 'name'],
  ])('refuses invalid registration input %j with BAD_USER_INPUT on %s', async (input, field) => {
    const res = await t.gql(RegisterDocument, {
      i: input,
    });
    const err = expectErrorCode(res, 'BAD_USER_INPUT');
    expect(err.extensions?.fields).toContain(field);
  });

  it('refuses login text that cannot be stored with BAD_USER_INPUT, never an internal error', async () => {
    for (const [i, field] of [
      [{ email: 'x\ud800@b.io', password: 'password-123' }, 'email'],
      [{ email: 'x@b.io', password: 'pass\u0000word' }, 'password'],
    ] as const) {
      const err = expectErrorCode(await t.gql(LoginDocument, { i }), 'BAD_USER_INPUT');
      expect(err.extensions?.fields).toContain(field);
    }
  });

  it('makes every character of a long password count (bcrypt alone reads only 72 bytes)', async () => {
    for (const head of ['A'.repeat(72), '😀'.repeat(18)]) {
      const email = `${unique()}@example.com`;
      expectNoErrors(
        await t.gql(RegisterDocument, {
          i: { email, password: `${head}first-suffix`, name: 'Long' },
        }),
      );
      expectErrorCode(
        await t.gql(LoginDocument, { i: { email, password: `${head}other-suffix` } }),
        'UNAUTHENTICATED',
      );
      expectNoErrors(await t.gql(LoginDocument, { i: { email, password: `${head}first-suffix` } }));
    }
  });

  it('still verifies a password hashed before the SHA-256 prehash (plain bcrypt)', async () => {
    const u = await t.seed.user();
    const legacy = await bcrypt.hash(u.password, 10);
    await t.app.orm.em
      .fork()
      .getConnection()
      .execute(`update users set password_hash = ? where id = ?`, [legacy, u.id]);
    expectNoErrors(await t.gql(LoginDocument, { i: { email: u.email, password: u.password } }));
    expectErrorCode(
      await t.gql(LoginDocument, { i: { email: u.email, password: `${u.password}x` } }),
      'UNAUTHENTICATED',
    );
  });

  it('answers the same UNAUTHENTICATED for an unknown email and a wrong password', async () => {
    const u = await t.seed.user();
    const wrong = expectErrorCode(
      await t.gql(LoginDocument, { i: { email: u.email, password: 'wrong-password' } }),
      'UNAUTHENTICATED',
    );
    const unknown = expectErrorCode(
      await t.gql(LoginDocument, {
        i: { email: `${unique()}@example.com`, password: 'wrong-password' },
      }),
      'UNAUTHENTICATED',
    );
    expect(wrong.message).toBe(unknown.message);
    expectNoErrors(
      await t.gql(LoginDocument, { i: { email: u.email.toUpperCase(), password: u.password } }),
    );
  });
});

describe('sign-in rate limits', () => {
  // Separate apps without Redis: their in-process budgets are theirs alone, whatever else runs.
  let limited: TestApp;
  afterEach(async () => {
    await limited?.close();
  });

  it('refuses the attempt past the per-email budget with RATE_LIMITED, even with the right password', async () => {
    limited = await startTestApp({ redisUrl: undefined, loginRatePerEmailPerMinute: 3 });
    const u = await t.seed.user();
    for (let i = 0; i < 3; i++) {
      expectErrorCode(
        await limited.gql(LoginDocument, { i: { email: u.email, password: `guess-${i}-wrong` } }),
        'UNAUTHENTICATED',
      );
    }
    // The budget is the email's, in any case: the right password does not get through either.
    const refused = await limited.gql(LoginDocument, {
      i: { email: u.email.toUpperCase(), password: u.password },
    });
    const err = expectErrorCode(refused, 'RATE_LIMITED');
    expect(err.extensions?.retryAfter).toBeGreaterThanOrEqual(1);
    expect(err.extensions?.retryAfter).toBeLessThanOrEqual(60);
    // As the cost budget's refusals: HTTP 429 and Retry-After, equal to retryAfter.
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBe(err.extensions?.retryAfter);
    // Another account is not held back by this one's budget.
    const other = await t.seed.user();
    expectNoErrors(
      await limited.gql(LoginDocument, { i: { email: other.email, password: other.password } }),
    );
  });

  it('limits changePassword guesses per account like logins, even with a valid access token', async () => {
    limited = await startTestApp({ redisUrl: undefined, loginRatePerEmailPerMinute: 3 });
    const u = await t.seed.user();
    for (let i = 0; i < 3; i++) {
      expectErrorCode(
        await limited.gql(
          ChangePasswordDocument,
          { i: { currentPassword: `guess-${i}-wrong`, newPassword: 'new-password-1' } },
          u.accessToken,
        ),
        'BAD_USER_INPUT',
      );
    }
    const err = expectErrorCode(
      await limited.gql(
        ChangePasswordDocument,
        { i: { currentPassword: u.password, newPassword: 'new-password-1' } },
        u.accessToken,
      ),
      'RATE_LIMITED',
    );
    expect(err.extensions?.retryAfter).toBeGreaterThanOrEqual(1);
    // Refused means unchanged: the old password still signs in.
    expectNoErrors(
      await t.gql(LoginDocument, {
        i: { email: u.email, password: u.password },
      }),
    );
  });

  it('refuses login and register past the per-address budget, before any work; refresh has its own', async () => {
    limited = await startTestApp({
      redisUrl: undefined,
      authRatePerMinute: 4,
      refreshRatePerMinute: 2,
    });
    const u = await t.seed.user();
    expectNoErrors(
      await limited.gql(LoginDocument, { i: { email: u.email, password: u.password } }),
    );
    const email = `${unique()}@example.com`;
    expectNoErrors(
      await limited.gql(RegisterDocument, { i: { email, password: 'password-123', name: 'R' } }),
    );
    expectNoErrors(await limited.gql(LoginDocument, { i: { email, password: 'password-123' } }));
    expectNoErrors(await limited.gql(LoginDocument, { i: { email, password: 'password-123' } }));
    // The fifth sign-in attempt from this address, whatever its kind, is refused.
    const refusedEmail = `${unique()}@example.com`;
    for (const [query, variables] of [
      [untyped(LoginDocument), { i: { email: u.email, password: u.password } }],
      [
        untyped(RegisterDocument),
        { i: { email: refusedEmail, password: 'password-123', name: 'S' } },
      ],
    ] as const) {
      const err = expectErrorCode(await limited.gql(query, variables), 'RATE_LIMITED');
      expect(err.extensions?.retryAfter).toBeGreaterThanOrEqual(1);
    }
    // Refresh exchanges are not held back by the spent sign-in budget: they have their own.
    expectErrorCode(
      await limited.gql(RefreshTokenDocument, { t: 'x'.repeat(40) }),
      'UNAUTHENTICATED',
    );
    expectErrorCode(
      await limited.gql(RefreshTokenDocument, { t: 'y'.repeat(40) }),
      'UNAUTHENTICATED',
    );
    const err = expectErrorCode(
      await limited.gql(RefreshTokenDocument, { t: u.refreshToken }),
      'RATE_LIMITED',
    );
    expect(err.extensions?.retryAfter).toBeGreaterThanOrEqual(1);
    // The refused refresh did not rotate (or burn) the token: it still works elsewhere.
    expectNoErrors(await t.gql(RefreshTokenDocument, { t: u.refreshToken }));
    // The refused registration wrote nothing; the allowed one did.
    const admin = await t.seed.admin();
    const count = async (s: string) =>
      expectNoErrors(await t.gql(UserCountDocument, { s }, admin.accessToken)).users.totalCount;
    expect(await count(email)).toBe(1);
    expect(await count(refusedEmail)).toBe(0);
  });
});
