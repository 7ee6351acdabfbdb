import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors } from '../helpers/graphql';
import type { SeededUser } from '../helpers/seed';
import { SCOPES, caller, expectForbidden, seedScopedKeys, type Key } from './permission-fixtures';

let t: TestApp;
let owner: SeededUser;
let allScopes: Key;
beforeAll(async () => {
  t = await startTestApp();
  ({ owner, allScopes } = await seedScopedKeys(t));
});
afterAll(async () => {
  await t.close();
});
const call = caller(() => t);

describe('what a key sees of what it reaches', () => {
  let u: SeededUser;
  let invoker: { id: string; secret: string };
  let reader: { id: string; secret: string };
  let both: { id: string; secret: string };
  const INVOKE_BY_KEY = `mutation { invokeTool(slug: "text-stats", input: { text: "Hello there." }) { output } }`;
  beforeAll(async () => {
    u = await t.seed.user();
    invoker = await t.seed.apiKey(u, ['TOOLS_INVOKE']);
    reader = await t.seed.apiKey(u, ['USAGE_READ']);
    both = await t.seed.apiKey(u, ['TOOLS_INVOKE', 'USAGE_READ']);
    expectNoErrors(await call(INVOKE_BY_KEY, {}, invoker.secret));
    expectNoErrors(await call(INVOKE_BY_KEY, {}, both.secret));
  });

  it.each([
    ['the subscription', `{ output subscription { tokensUsed } }`, 'USAGE_READ'],
    [
      'it through a fragment',
      `{ ...F } fragment F on ToolInvocation { output subscription { plan { tier } } }`,
      'USAGE_READ',
    ],
    ['the owner’s email', `{ output usage { user { id email } } }`, 'TASKS_READ'],
    [
      'the owner’s tasks',
      `{ usage { user { ... on User { tasks { totalCount } } } } }`,
      'TASKS_READ',
    ],
    ['the owner’s usage', `{ usage { user { usage { calls } } } }`, 'USAGE_READ'],
  ])(
    'a TOOLS_INVOKE key asking invokeTool for %s is refused before the tool runs, nothing charged',
    async (_what, selection, scope) => {
      const [body, ...fragments] = selection.split(' fragment ');
      const q = `mutation { invokeTool(slug: "text-stats", input: { text: "Hi." }) ${body} }${
        fragments.length ? ` fragment ${fragments.join(' fragment ')}` : ''
      }`;
      const before = expectNoErrors(
        await call(
          `{ mySubscription { tokensUsed } usageRecords { totalCount } }`,
          {},
          u.accessToken,
        ),
      );
      const res = await call(q, {}, invoker.secret);
      const err = expectErrorCode(res, 'FORBIDDEN');
      expect(err.path).toEqual(['invokeTool']);
      expect(err.extensions?.requiredScope).toBe(scope);
      expect(
        expectNoErrors(
          await call(
            `{ mySubscription { tokensUsed } usageRecords { totalCount } }`,
            {},
            u.accessToken,
          ),
        ),
      ).toEqual(before);
    },
  );

  it('a key with the scopes, or the owner’s token, gets the same selection', async () => {
    const q = `mutation { invokeTool(slug: "text-stats", input: { text: "Hi." }) { output subscription { tokensUsed } usage { user { email } } } }`;
    const all = await t.seed.apiKey(u, ['TOOLS_INVOKE', 'USAGE_READ', 'TASKS_READ']);
    for (const token of [all.secret, u.accessToken]) {
      const ok = expectNoErrors(await call(q, {}, token)).invokeTool;
      expect(ok.subscription.tokensUsed).toBeGreaterThan(0);
      expect(ok.usage.user.email).toBe(u.email);
    }
    // Without those fields the TOOLS_INVOKE key alone runs the tool.
    expect(
      expectNoErrors(
        await call(
          `mutation { invokeTool(slug: "text-stats", input: { text: "Hi." }) { output usage { totalTokens user { id } tool { slug } } } }`,
          {},
          invoker.secret,
        ),
      ).invokeTool.usage.user,
    ).toEqual({ id: u.id });
  });

  it('a key sees only itself as the apiKey of a usage record (the others answer null, without an error); the owner’s token sees every key', async () => {
    const q = `{ usageRecords(first: 100) { nodes { apiKey { id } } } }`;
    // The reader key made no call: every record names another key, and each answers null.
    const hidden = expectNoErrors(await call(q, {}, reader.secret)).usageRecords.nodes as {
      apiKey: { id: string } | null;
    }[];
    expect(hidden.length).toBeGreaterThanOrEqual(2);
    expect(hidden.every((n) => n.apiKey === null)).toBe(true);
    expect(JSON.stringify(hidden)).not.toContain(invoker.id);
    expect(JSON.stringify(hidden)).not.toContain(both.id);
    // A key that made calls sees itself on its own records, null on the other key's: one page,
    // no error, so a client's default error policy keeps it.
    const mixed = expectNoErrors(await call(q, {}, both.secret)).usageRecords.nodes as {
      apiKey: { id: string } | null;
    }[];
    expect(mixed).toContainEqual({ apiKey: { id: both.id } });
    expect(mixed).toContainEqual({ apiKey: null });
    expect(JSON.stringify(mixed)).not.toContain(invoker.id);
    const byOwner = expectNoErrors(await call(q, {}, u.accessToken)).usageRecords.nodes as {
      apiKey: { id: string } | null;
    }[];
    expect(byOwner.map((n) => n.apiKey?.id).sort()).toEqual(
      expect.arrayContaining([invoker.id, both.id]),
    );
  });

  it('a key without TASKS_READ reads a usage record’s user id but not their email or name', async () => {
    const q = `{ usageRecords(first: 1) { nodes { user { id email } } } }`;
    const err = expectErrorCode(await call(q, {}, reader.secret), 'FORBIDDEN');
    expect(err.path).toEqual(['usageRecords', 'nodes', 0, 'user', 'email']);
    expect(err.extensions?.requiredScope).toBe('TASKS_READ');
    expect(
      expectNoErrors(
        await call(`{ usageRecords(first: 1) { nodes { user { id } } } }`, {}, reader.secret),
      ).usageRecords.nodes,
    ).toEqual([{ user: { id: u.id } }]);
    const withTasksRead = await t.seed.apiKey(u, ['USAGE_READ', 'TASKS_READ']);
    expect(expectNoErrors(await call(q, {}, withTasksRead.secret)).usageRecords.nodes).toEqual([
      { user: { id: u.id, email: u.email } },
    ]);
  });
});

describe('what a key can never do, whoever owns it', () => {
  let admin: SeededUser;
  let adminKey: { id: string; secret: string };
  let textStatsId: string;
  beforeAll(async () => {
    admin = await t.seed.newAdmin();
    adminKey = await t.seed.apiKey(admin, [...SCOPES]);
    const tools = expectNoErrors(
      await call(`{ tools(first: 100) { nodes { id slug } } }`, {}, owner.accessToken),
    ).tools.nodes as { id: string; slug: string }[];
    textStatsId = tools.find((tool) => tool.slug === 'text-stats')!.id;
  });

  const NEVER: [
    string,
    string,
    (who: SeededUser, key: { id: string }) => Record<string, unknown>,
  ][] = [
    ['apiKeys', `{ apiKeys { id } }`, () => ({})],
    [
      'createApiKey',
      `mutation { createApiKey(input: { name: "by a key", scopes: [TASKS_READ] }) { secret } }`,
      () => ({}),
    ],
    [
      'revokeApiKey',
      `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`,
      (_w, key) => ({ id: key.id }),
    ],
    [
      'logout',
      `mutation($t: String!) { logout(refreshToken: $t) }`,
      (who) => ({ t: who.refreshToken }),
    ],
    ['logoutAll', `mutation { logoutAll }`, () => ({})],
    [
      'updateProfile',
      `mutation { updateProfile(input: { name: "Renamed by key" }) { name } }`,
      () => ({}),
    ],
    [
      'changePassword',
      `mutation($p: String!) { changePassword(input: { currentPassword: $p, newPassword: "changed-by-key-1" }) }`,
      (who) => ({ p: who.password }),
    ],
    ['changePlan', `mutation { changePlan(tier: ENTERPRISE) { plan { tier } } }`, () => ({})],
    ['users', `{ users { totalCount } }`, () => ({})],
    ['user', `query($id: ID!) { user(id: $id) { id } }`, (who) => ({ id: who.id })],
    ['allTasks', `{ allTasks { totalCount } }`, () => ({})],
    ['allUsageRecords', `{ allUsageRecords { totalCount } }`, () => ({})],
    ['adminStats', `{ adminStats { users } }`, () => ({})],
    ['auditLog', `{ auditLog { totalCount } }`, () => ({})],
    [
      'setUserRole',
      `mutation($id: ID!) { setUserRole(userId: $id, role: USER) { id } }`,
      (who) => ({ id: who.id }),
    ],
    [
      'setUserActive',
      `mutation($id: ID!) { setUserActive(userId: $id, active: false) { id } }`,
      (who) => ({ id: who.id }),
    ],
    [
      'setUserPlan',
      `mutation($id: ID!) { setUserPlan(userId: $id, tier: ENTERPRISE) { plan { tier } } }`,
      (who) => ({ id: who.id }),
    ],
    ['adminDeleteTask', `mutation($id: ID!) { adminDeleteTask(id: $id) }`, () => ({ id: taskId })],
    [
      'createTool',
      `mutation($slug: String!) { createTool(input: { slug: $slug, name: "Key tool", description: "d",
        category: "c", requiredTier: FREE, inputSchema: { type: "object" }, maxOutputTokens: 10 }) { id } }`,
      () => ({ slug: `key-tool-${Date.now()}` }),
    ],
    [
      'updateTool',
      `mutation($id: ID!) { updateTool(id: $id, input: {}) { id } }`,
      () => ({ id: textStatsId }),
    ],
  ];
  let taskId: string;

  it.each(['a user’s', 'an admin’s'])(
    'refuses every session, profile, plan, key and admin field to %s key with every scope, and nothing changes',
    async (whose) => {
      const who = whose === 'a user’s' ? owner : admin;
      const key = whose === 'a user’s' ? allScopes : adminKey;
      taskId = (await t.seed.task(who, { title: 'Keep me' })).id;
      for (const [field, query, variables] of NEVER) {
        expectForbidden(await call(query, variables(who, key), key.secret), field);
      }
      // Nothing happened: the key, the sessions, the password, the profile, the plan, the task
      // and the tool are as they were, and the admin is still an active admin.
      const me = expectNoErrors(
        await call(
          `{ me { id name role isActive subscription { plan { tier } } } }`,
          {},
          who.accessToken,
        ),
      ).me;
      expect(me).toEqual({
        id: who.id,
        name: who.name,
        role: who === admin ? 'ADMIN' : 'USER',
        isActive: true,
        subscription: { plan: { tier: 'FREE' } },
      });
      expect(expectNoErrors(await call(`{ me { id } }`, {}, key.secret)).me.id).toBe(who.id);
      const keys = expectNoErrors(
        await call(`{ apiKeys { id name revokedAt } }`, {}, who.accessToken),
      ).apiKeys as { name: string; revokedAt: string | null }[];
      expect(keys.filter((k) => k.name === 'by a key')).toEqual([]);
      expect(keys.every((k) => k.revokedAt === null)).toBe(true);
      // The refresh token still works (it rotates: keep the new one).
      who.refreshToken = expectNoErrors(
        await call(`mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }`, {
          t: who.refreshToken,
        }),
      ).refreshToken.refreshToken;
      expectNoErrors(
        await call(`mutation($i: LoginInput!) { login(input: $i) { accessToken } }`, {
          i: { email: who.email, password: who.password },
        }),
      );
      expect(await taskTitleOf(who, taskId)).toBe('Keep me');
      const tool = expectNoErrors(
        await call(`{ tool(slug: "text-stats") { requiredTier isActive } }`, {}, who.accessToken),
      ).tool;
      expect(tool).toEqual({ requiredTier: 'FREE', isActive: true });
    },
  );

  async function taskTitleOf(who: SeededUser, id: string) {
    return expectNoErrors(
      await call(`query($id: ID!) { task(id: $id) { title } }`, { id }, who.accessToken),
    ).task?.title as string | undefined;
  }

  it('a tool’s endpointUrl is for an admin’s access token; an admin’s key and a user read null, without an error', async () => {
    const seeded = await t.seed.admin();
    const slug = `up-${Date.now()}`;
    expectNoErrors(
      await call(
        `mutation($i: CreateToolInput!) { createTool(input: $i) { id } }`,
        {
          i: {
            slug,
            name: 'Upstream',
            description: 'An upstream tool',
            category: 'test',
            requiredTier: 'FREE',
            inputSchema: { type: 'object' },
            maxOutputTokens: 10,
            endpointUrl: 'http://127.0.0.1:9/secret-path',
          },
        },
        seeded.accessToken,
      ),
    );
    const q = `query($s: String!) { tool(slug: $s) { slug endpointUrl } }`;
    expect(expectNoErrors(await call(q, { s: slug }, seeded.accessToken)).tool).toEqual({
      slug,
      endpointUrl: 'http://127.0.0.1:9/secret-path',
    });
    for (const token of [adminKey.secret, owner.accessToken]) {
      const res = await call(q, { s: slug }, token);
      expect(expectNoErrors(res).tool).toEqual({ slug, endpointUrl: null });
      expect(JSON.stringify(res)).not.toContain('secret-path');
    }
  });
});
