import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createScratchDatabase } from '../helpers/scratch-database';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, type GraphQLResponse } from '../helpers/graphql';
import { unique, type SeededUser } from '../helpers/seed';
import { TEST_ADMIN } from '../helpers/test-config';

const USERS = `query($first: Int, $after: String, $filter: UserFilter) {
  users(first: $first, after: $after, filter: $filter) {
    totalCount
    edges { cursor node { id email name role isActive createdAt } }
    nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;
const USER = `query($id: ID!) { user(id: $id) { id email name role isActive } }`;
const SET_ROLE = `mutation($id: ID!, $role: Role!) { setUserRole(userId: $id, role: $role) { id role isActive } }`;
const SET_ACTIVE = `mutation($id: ID!, $active: Boolean!) { setUserActive(userId: $id, active: $active) { id role isActive } }`;
const AUDIT = `query($first: Int, $after: String) {
  auditLog(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    nodes { id action targetType targetId details createdAt actor { id email role } }
  }
}`;
const ME = `{ me { id role isActive } }`;
const LOGIN = `mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }`;
const REFRESH = `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }`;

let t: TestApp;
/** The seeded admin, signed in once for the whole file. */
let admin: SeededUser;
/**
 * An app on a database of its own (see "the last active admin"), started at once in the
 * background: creating and migrating an empty database takes seconds, meanwhile the other
 * tests run.
 */
let isolated: Promise<{ db: { url: string; drop(): Promise<void> }; app?: TestApp }>;
beforeAll(async () => {
  isolated = isolatedDatabase().then(async (db) => {
    try {
      return { db, app: await startTestApp({ databaseUrl: db.url }) };
    } catch (err) {
      await db.drop();
      throw err;
    }
  });
  isolated.catch(() => undefined);
  t = await startTestApp();
  admin = await t.seed.admin();
});
afterAll(async () => {
  await t.close();
  const started = await isolated.catch(() => null);
  await started?.app?.close();
  await started?.db.drop();
});

const call = <T = Record<string, any>>(
  app: TestApp,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<GraphQLResponse<T>> => app.gql<T>(query, variables, token);

const setRole = (app: TestApp, token: string, id: string, role: 'USER' | 'ADMIN') =>
  call(app, SET_ROLE, { id, role }, token);
const setActive = (app: TestApp, token: string, id: string, active: boolean) =>
  call(app, SET_ACTIVE, { id, active }, token);

/** The audit entries about `targetId`, newest first (the log is shared with parallel files). */
async function auditFor(app: TestApp, token: string, targetId: string): Promise<any[]> {
  const found: any[] = [];
  let after: string | null = null;
  for (let page = 0; page < 20; page += 1) {
    const log: any = expectNoErrors(await call(app, AUDIT, { first: 100, after }, token)).auditLog;
    found.push(...log.nodes.filter((n: any) => n.targetId === targetId));
    if (!log.pageInfo.hasNextPage) break;
    after = log.pageInfo.endCursor;
  }
  return found;
}

describe('users and user', () => {
  it('pages newest first with totalCount, and filters by search (case-insensitive, literal), role and isActive', async () => {
    const token = unique('zq').toLowerCase();
    const u1 = await t.seed.user({ name: `Member ${token} one` });
    const u2 = await t.seed.user({ name: `Member ${token} two` });
    const u3 = await t.seed.user({ name: `Member ${token} three` });
    const users = async (variables: Record<string, unknown>) =>
      expectNoErrors(await call(t, USERS, variables, admin.accessToken)).users;
    const ids = (conn: any) => conn.nodes.map((n: any) => n.id);

    const page1 = await users({ first: 2, filter: { search: token.toUpperCase() } });
    expect(page1.totalCount).toBe(3);
    expect(ids(page1)).toEqual([u3.id, u2.id]);
    expect(page1.edges.map((e: any) => e.node.id)).toEqual([u3.id, u2.id]);
    expect(page1.edges[0].node).toMatchObject({
      email: u3.email,
      name: `Member ${token} three`,
      role: 'USER',
      isActive: true,
    });
    expect(page1.pageInfo).toEqual({
      hasNextPage: true,
      hasPreviousPage: false,
      startCursor: page1.edges[0].cursor,
      endCursor: page1.edges[1].cursor,
    });
    const page2 = await users({
      first: 2,
      after: page1.pageInfo.endCursor,
      filter: { search: token },
    });
    expect(page2.totalCount).toBe(3);
    expect(ids(page2)).toEqual([u1.id]);
    expect(page2.pageInfo.hasNextPage).toBe(false);
    expect(page2.pageInfo.hasPreviousPage).toBe(true);

    // Email matches too; LIKE wildcards in the search are literal characters.
    expect(ids(await users({ filter: { search: u2.email.toUpperCase() } }))).toEqual([u2.id]);
    expect((await users({ filter: { search: `${token}%` } })).totalCount).toBe(0);
    expect((await users({ filter: { search: `Member_${token.slice(1)}` } })).totalCount).toBe(0);

    expectNoErrors(await setRole(t, admin.accessToken, u1.id, 'ADMIN'));
    expectNoErrors(await setActive(t, admin.accessToken, u2.id, false));
    const by = async (filter: Record<string, unknown>) => {
      const conn = await users({ filter: { search: token, ...filter } });
      expect(conn.totalCount).toBe(conn.nodes.length);
      return ids(conn);
    };
    expect(await by({ role: 'ADMIN' })).toEqual([u1.id]);
    expect(await by({ role: 'USER' })).toEqual([u3.id, u2.id]);
    expect(await by({ isActive: false })).toEqual([u2.id]);
    expect(await by({ isActive: true })).toEqual([u3.id, u1.id]);
    expect(await by({ role: 'USER', isActive: true })).toEqual([u3.id]);
    expect(await by({ role: 'ADMIN', isActive: false })).toEqual([]);
    expectNoErrors(await setRole(t, admin.accessToken, u1.id, 'USER'));
  });

  it.each([
    [{ first: 0 }, 'first'],
    [{ first: 101 }, 'first'],
    [{ after: 'not-a-cursor' }, 'after'],
    [{ filter: { search: '' } }, 'search'],
    [{ filter: { search: 's'.repeat(201) } }, 'search'],
    [{ filter: { search: 'a\u0000b' } }, 'search'],
  ])('refuses %j with BAD_USER_INPUT', async (variables, field) => {
    const err = expectErrorCode(
      await call(t, USERS, variables, admin.accessToken),
      'BAD_USER_INPUT',
    );
    expect(err.extensions?.fields.join(' ')).toContain(field);
  });

  it('user(id) answers the account with its plan and tasks for an admin, null for an unknown id, BAD_USER_INPUT for a malformed one', async () => {
    const u = await t.seed.user({ plan: 'PRO', name: 'Pro Member' });
    const task = await t.seed.task(u, { title: 'Quarterly report' });
    const res = expectNoErrors(
      await call(
        t,
        `query($id: ID!) { user(id: $id) { id email name role isActive subscription { plan { tier } }
           tasks { totalCount nodes { id title } } } }`,
        { id: u.id },
        admin.accessToken,
      ),
    );
    expect(res.user).toEqual({
      id: u.id,
      email: u.email,
      name: 'Pro Member',
      role: 'USER',
      isActive: true,
      subscription: { plan: { tier: 'PRO' } },
      tasks: { totalCount: 1, nodes: [{ id: task.id, title: 'Quarterly report' }] },
    });
    const none = await call(t, USER, { id: randomUUID() }, admin.accessToken);
    expect(none.errors).toBeUndefined();
    expect(none.data).toEqual({ user: null });
    const bad = expectErrorCode(
      await call(t, USER, { id: 'not-a-uuid' }, admin.accessToken),
      'BAD_USER_INPUT',
    );
    expect(bad.extensions?.fields).toEqual(['id']);
    for (const [query, vars] of [
      [`mutation($id: ID!) { setUserRole(userId: $id, role: USER) { id } }`, { id: 'x' }],
      [`mutation($id: ID!) { setUserActive(userId: $id, active: true) { id } }`, { id: 'x' }],
    ] as const) {
      const err = expectErrorCode(await call(t, query, vars, admin.accessToken), 'BAD_USER_INPUT');
      expect(err.extensions?.fields).toEqual(['userId']);
    }
  });
});

describe('admin fields refuse everyone else', () => {
  const operations: [string, string, (target: string) => Record<string, unknown>][] = [
    ['users', USERS, () => ({})],
    ['user', USER, (id) => ({ id })],
    ['auditLog', AUDIT, () => ({})],
    ['setUserRole', SET_ROLE, (id) => ({ id, role: 'ADMIN' })],
    ['setUserActive', SET_ACTIVE, (id) => ({ id, active: false })],
  ];

  let u: SeededUser;
  let target: SeededUser;
  beforeAll(async () => {
    u = await t.seed.user();
    target = await t.seed.user();
  });

  it.each(operations)(
    '%s: FORBIDDEN for a normal user, UNAUTHENTICATED anonymously, and nothing changes',
    async (name, query, variables) => {
      const forbidden = await call(t, query, variables(target.id), u.accessToken);
      expectErrorCode(forbidden, 'FORBIDDEN');
      // Nothing of the field leaks: null data, or null for a nullable field.
      expect(forbidden.data ?? { [name]: null }).toEqual({ [name]: null });
      const anonymous = await call(t, query, variables(target.id));
      expectErrorCode(anonymous, 'UNAUTHENTICATED');
      expect(anonymous.data ?? { [name]: null }).toEqual({ [name]: null });
      expect(
        expectNoErrors(await call(t, USER, { id: target.id }, admin.accessToken)).user,
      ).toMatchObject({ role: 'USER', isActive: true });
      expect(await auditFor(t, admin.accessToken, target.id)).toEqual([]);
      expectNoErrors(await call(t, ME, {}, target.accessToken));
    },
  );
});

describe('setUserRole and setUserActive', () => {
  it('setUserRole changes the role and writes user.setRole entries with before, after and the actor', async () => {
    const actor = await t.seed.newAdmin();
    const u = await t.seed.user();
    const promoted = expectNoErrors(await setRole(t, actor.accessToken, u.id, 'ADMIN'));
    expect(promoted.setUserRole).toEqual({ id: u.id, role: 'ADMIN', isActive: true });
    const demoted = expectNoErrors(await setRole(t, actor.accessToken, u.id, 'USER'));
    expect(demoted.setUserRole).toEqual({ id: u.id, role: 'USER', isActive: true });

    const entries = await auditFor(t, actor.accessToken, u.id);
    expect(entries).toHaveLength(2);
    expect(entries.map((e) => [e.action, e.targetType, e.details])).toEqual([
      [
        'user.setRole',
        'User',
        { before: { role: 'ADMIN', isActive: true }, after: { role: 'USER', isActive: true } },
      ],
      [
        'user.setRole',
        'User',
        { before: { role: 'USER', isActive: true }, after: { role: 'ADMIN', isActive: true } },
      ],
    ]);
    for (const entry of entries) {
      expect(entry.actor).toEqual({ id: actor.id, email: actor.email, role: 'ADMIN' });
      expect(Math.abs(new Date(entry.createdAt).getTime() - Date.now())).toBeLessThan(60_000);
    }
    // The actor's own promotion is recorded with the seeded admin as its actor.
    const [own] = await auditFor(t, actor.accessToken, actor.id);
    expect(own).toMatchObject({
      action: 'user.setRole',
      actor: { email: TEST_ADMIN.email },
      details: { before: { role: 'USER' }, after: { role: 'ADMIN' } },
    });
  });

  it('setUserActive changes activation and writes user.setActive entries with before, after and the actor', async () => {
    const actor = await t.seed.newAdmin();
    const u = await t.seed.user();
    expect(
      expectNoErrors(await setActive(t, actor.accessToken, u.id, false)).setUserActive,
    ).toEqual({ id: u.id, role: 'USER', isActive: false });
    expect(expectNoErrors(await setActive(t, actor.accessToken, u.id, true)).setUserActive).toEqual(
      { id: u.id, role: 'USER', isActive: true },
    );
    const entries = await auditFor(t, actor.accessToken, u.id);
    expect(entries.map((e) => [e.action, e.details, e.actor.id])).toEqual([
      [
        'user.setActive',
        { before: { role: 'USER', isActive: false }, after: { role: 'USER', isActive: true } },
        actor.id,
      ],
      [
        'user.setActive',
        { before: { role: 'USER', isActive: true }, after: { role: 'USER', isActive: false } },
        actor.id,
      ],
    ]);
  });

  it('answers NOT_FOUND for an unknown user id and BAD_USER_INPUT for a malformed one', async () => {
    expectErrorCode(await setRole(t, admin.accessToken, randomUUID(), 'ADMIN'), 'NOT_FOUND');
    expectErrorCode(await setRole(t, admin.accessToken, 'nope', 'ADMIN'), 'BAD_USER_INPUT');
    expectErrorCode(await setActive(t, admin.accessToken, randomUUID(), false), 'NOT_FOUND');
    expectErrorCode(await setActive(t, admin.accessToken, 'nope', false), 'BAD_USER_INPUT');
  });

  it('auditLog pages newest first with totalCount', async () => {
    const actor = await t.seed.newAdmin();
    const u = await t.seed.user();
    expectNoErrors(await setActive(t, actor.accessToken, u.id, false));
    const first = expectNoErrors(await call(t, AUDIT, { first: 1 }, actor.accessToken)).auditLog;
    expect(first.nodes).toHaveLength(1);
    expect(first.totalCount).toBeGreaterThanOrEqual(2);
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const second = expectNoErrors(
      await call(t, AUDIT, { first: 1, after: first.pageInfo.endCursor }, actor.accessToken),
    ).auditLog;
    expect(second.nodes).toHaveLength(1);
    expect(second.nodes[0].id).not.toBe(first.nodes[0].id);
    expect(new Date(second.nodes[0].createdAt).getTime()).toBeLessThanOrEqual(
      new Date(first.nodes[0].createdAt).getTime(),
    );
    expect(second.pageInfo.hasPreviousPage).toBe(true);
  });
});

describe('deactivation and role changes apply at the next request', () => {
  it('a deactivated user’s access token, refresh token and API key stop and login is refused; after reactivation login and the API key work again, the old sessions stay ended', async () => {
    const u = await t.seed.user();
    const key = await t.seed.apiKey(u, ['TASKS_READ']);
    expectNoErrors(await call(t, ME, {}, u.accessToken));
    expectNoErrors(await call(t, ME, {}, key.secret));

    expectNoErrors(await setActive(t, admin.accessToken, u.id, false));
    expectErrorCode(await call(t, ME, {}, u.accessToken), 'UNAUTHENTICATED');
    expectErrorCode(await call(t, ME, {}, key.secret), 'UNAUTHENTICATED');
    expectErrorCode(await call(t, REFRESH, { t: u.refreshToken }), 'UNAUTHENTICATED');
    const refused = expectErrorCode(
      await call(t, LOGIN, { i: { email: u.email, password: u.password } }),
      'UNAUTHENTICATED',
    );
    const wrong = expectErrorCode(
      await call(t, LOGIN, { i: { email: u.email, password: 'not-the-password' } }),
      'UNAUTHENTICATED',
    );
    // A deactivated account is not told apart from a wrong password.
    expect(refused.message).toBe(wrong.message);

    expectNoErrors(await setActive(t, admin.accessToken, u.id, true));
    const login = expectNoErrors(
      await call(t, LOGIN, { i: { email: u.email, password: u.password } }),
    ).login;
    expect(expectNoErrors(await call(t, ME, {}, login.accessToken)).me).toEqual({
      id: u.id,
      role: 'USER',
      isActive: true,
    });
    // Deactivation ended the sessions for good; keys were only suspended.
    expectErrorCode(await call(t, ME, {}, u.accessToken), 'UNAUTHENTICATED');
    expectErrorCode(await call(t, REFRESH, { t: u.refreshToken }), 'UNAUTHENTICATED');
    expect(expectNoErrors(await call(t, ME, {}, key.secret)).me.id).toBe(u.id);
  });

  it('a deactivated admin loses admin access at the next request', async () => {
    const other = await t.seed.newAdmin();
    expectNoErrors(await call(t, USERS, { first: 1 }, other.accessToken));
    expectNoErrors(await setActive(t, admin.accessToken, other.id, false));
    expectErrorCode(await call(t, USERS, { first: 1 }, other.accessToken), 'UNAUTHENTICATED');
  });

  it('a user promoted to ADMIN can call users with their existing token; once demoted they cannot; their API key never can', async () => {
    const u = await t.seed.user();
    const key = await t.seed.apiKey(u, ['TASKS_READ', 'TASKS_WRITE', 'TOOLS_INVOKE', 'USAGE_READ']);
    expectErrorCode(await call(t, USERS, { first: 1 }, u.accessToken), 'FORBIDDEN');
    expectNoErrors(await setRole(t, admin.accessToken, u.id, 'ADMIN'));
    const seen = expectNoErrors(
      await call(t, USERS, { first: 1, filter: { search: u.email } }, u.accessToken),
    ).users;
    expect(seen.nodes).toEqual([{ id: u.id }]);
    expect(seen.edges[0].node.role).toBe('ADMIN');
    expect(expectNoErrors(await call(t, ME, {}, u.accessToken)).me.role).toBe('ADMIN');
    expectErrorCode(await call(t, USERS, { first: 1 }, key.secret), 'FORBIDDEN');
    expectNoErrors(await setRole(t, admin.accessToken, u.id, 'USER'));
    expectErrorCode(await call(t, USERS, { first: 1 }, u.accessToken), 'FORBIDDEN');
    expect(expectNoErrors(await call(t, ME, {}, u.accessToken)).me.role).toBe('USER');
  });
});

describe('the last active admin', () => {
  it('an admin may demote or deactivate themselves while another active admin remains (the seeded admin always does), audited with themselves as actor', async () => {
    const a = await t.seed.newAdmin();
    const b = await t.seed.newAdmin();
    expect(expectNoErrors(await setRole(t, a.accessToken, a.id, 'USER')).setUserRole).toEqual({
      id: a.id,
      role: 'USER',
      isActive: true,
    });
    expectErrorCode(await call(t, USERS, { first: 1 }, a.accessToken), 'FORBIDDEN');
    expect(expectNoErrors(await setActive(t, b.accessToken, b.id, false)).setUserActive).toEqual({
      id: b.id,
      role: 'ADMIN',
      isActive: false,
    });
    expectErrorCode(await call(t, ME, {}, b.accessToken), 'UNAUTHENTICATED');
    const [demotion] = await auditFor(t, admin.accessToken, a.id);
    expect(demotion).toMatchObject({ action: 'user.setRole', actor: { id: a.id } });
    const [deactivation] = await auditFor(t, admin.accessToken, b.id);
    expect(deactivation).toMatchObject({
      action: 'user.setActive',
      actor: { id: b.id },
      details: { before: { isActive: true }, after: { isActive: false } },
    });
  });

  /**
   * The shared test database always has the seeded admin, which must stay an active ADMIN for
   * the other test files, so "no other active admin" is only reachable in a database of its
   * own: a fresh one, migrated and seeded by its own app, where the seeded admin is alone.
   */
  describe('in a database of its own', () => {
    let iso: TestApp;
    let s: SeededUser;
    let a: SeededUser;
    const admins = async (token: string) =>
      expectNoErrors(await call(iso, `{ adminStats { admins } }`, {}, token)).adminStats.admins;
    const auditCount = async (token: string) =>
      expectNoErrors(await call(iso, AUDIT, { first: 1 }, token)).auditLog.totalCount;

    beforeAll(async () => {
      iso = (await isolated).app!;
      s = await iso.seed.admin();
    });

    it('refuses the only active admin demoting or deactivating themselves with CONFLICT: nothing changes, no audit entry, sessions kept', async () => {
      expect(await admins(s.accessToken)).toBe(1);
      const entries = await auditCount(s.accessToken);
      expectErrorCode(await setRole(iso, s.accessToken, s.id, 'USER'), 'CONFLICT');
      expectErrorCode(await setActive(iso, s.accessToken, s.id, false), 'CONFLICT');
      expect(expectNoErrors(await call(iso, USER, { id: s.id }, s.accessToken)).user).toMatchObject(
        { role: 'ADMIN', isActive: true },
      );
      expect(await auditCount(s.accessToken)).toBe(entries);
      expect(await admins(s.accessToken)).toBe(1);
      // The refused deactivation did not end the admin's sessions either.
      const refreshed = expectNoErrors(await call(iso, REFRESH, { t: s.refreshToken }));
      s = { ...s, accessToken: refreshed.refreshToken.accessToken };
      expectNoErrors(await call(iso, ME, {}, s.accessToken));
      // Only removing the last admin is refused: setting the role it already has is not.
      expectNoErrors(await setRole(iso, s.accessToken, s.id, 'ADMIN'));
    });

    it('allows it once a second active admin exists, and then refuses that one', async () => {
      a = await iso.seed.newAdmin();
      expect(await admins(s.accessToken)).toBe(2);
      expectNoErrors(await setRole(iso, s.accessToken, s.id, 'USER'));
      expect(await admins(a.accessToken)).toBe(1);
      const entries = await auditCount(a.accessToken);
      expectErrorCode(await setActive(iso, a.accessToken, a.id, false), 'CONFLICT');
      expectErrorCode(await setRole(iso, a.accessToken, a.id, 'USER'), 'CONFLICT');
      expect(await auditCount(a.accessToken)).toBe(entries);
      // An inactive admin does not count: deactivate the demoted one as ADMIN, still refused.
      expectNoErrors(await setRole(iso, a.accessToken, s.id, 'ADMIN'));
      expectNoErrors(await setActive(iso, a.accessToken, s.id, false));
      expect(await admins(a.accessToken)).toBe(1);
      expectErrorCode(await setRole(iso, a.accessToken, a.id, 'USER'), 'CONFLICT');
      expectNoErrors(await setActive(iso, a.accessToken, s.id, true));
      expect(await admins(a.accessToken)).toBe(2);
      s = await iso.seed.admin();
    });

    it('two admins demoting themselves, or each other, at the same moment leave exactly one active admin', async () => {
      for (const round of ['themselves', 'each other'] as const) {
        expect(await admins(s.accessToken)).toBe(2);
        const results = await Promise.all(
          round === 'themselves'
            ? [
                setRole(iso, s.accessToken, s.id, 'USER'),
                setActive(iso, a.accessToken, a.id, false),
              ]
            : [
                setRole(iso, s.accessToken, a.id, 'USER'),
                setRole(iso, a.accessToken, s.id, 'USER'),
              ],
        );
        const ok = results.filter((r) => !r.errors);
        expect(ok).toHaveLength(1);
        expectErrorCode(results.find((r) => r.errors)!, 'CONFLICT');
        // Whoever is still an active admin says how many remain and repairs the state.
        const sLogin = await iso.seed.admin();
        const aLogin = await call(iso, LOGIN, { i: { email: a.email, password: a.password } });
        const candidates = [sLogin.accessToken, aLogin.data?.login.accessToken as string];
        let remaining = 0;
        let repairer: string | undefined;
        for (const token of candidates.filter(Boolean)) {
          const res = await call(iso, `{ adminStats { admins } }`, {}, token);
          if (!res.errors) {
            remaining = res.data!.adminStats.admins;
            repairer = token;
          }
        }
        expect(remaining).toBe(1);
        expectNoErrors(await setActive(iso, repairer!, a.id, true));
        expectNoErrors(await setRole(iso, repairer!, a.id, 'ADMIN'));
        expectNoErrors(await setRole(iso, repairer!, s.id, 'ADMIN'));
        s = await iso.seed.admin();
        a = {
          ...a,
          ...expectNoErrors(await call(iso, LOGIN, { i: { email: a.email, password: a.password } }))
            .login,
        };
      }
    });
  });
});

/**
 * A new, empty database: on the PostgreSQL server of DATABASE_URL when set (dropped after),
 * otherwise an in-memory PGlite served from a child process (jest's VM cannot load PGlite).
 * Creating an empty PGlite cluster takes seconds, so the child keeps one freshly initialised
 * (still empty) data directory in node_modules/.cache and starts from it the next time.
 */
async function isolatedDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (base) return createScratchDatabase(base, 'switchboard_test_admin');
  const root = resolve(__dirname, '../..');
  const { version } = JSON.parse(
    readFileSync(resolve(root, 'node_modules/@electric-sql/pglite/package.json'), 'utf8'),
  ) as { version: string };
  const cacheDir = resolve(root, 'node_modules/.cache/switchboard');
  mkdirSync(cacheDir, { recursive: true });
  const script = `
    import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
    import { PGlite } from '@electric-sql/pglite';
    import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
    const cache = process.env.PGLITE_EMPTY_CACHE;
    let db;
    if (existsSync(cache)) {
      db = await PGlite.create({ loadDataDir: new Blob([readFileSync(cache)]) }).catch(() => null);
    }
    if (!db) {
      db = await PGlite.create();
      const dump = await db.dumpDataDir('gzip');
      const tmp = cache + '.' + process.pid;
      writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
      renameSync(tmp, cache);
    }
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
    await server.start();
    process.stdout.write('postgres://postgres:postgres@' + server.getServerConn() + '/postgres?sslmode=disable\\n');
    process.stdin.resume();
    process.stdin.on('end', async () => { await server.stop(); await db.close(); process.exit(0); });
  `;
  const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    env: { ...process.env, PGLITE_EMPTY_CACHE: resolve(cacheDir, `pglite-${version}-empty.tgz`) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolveUrl, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', resolveUrl);
    child.once('exit', (code) => reject(new Error(`PGlite child exited with ${code}`)));
  });
  return {
    url,
    async drop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      child.stdin!.end();
      const timer = setTimeout(() => child.kill(), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
