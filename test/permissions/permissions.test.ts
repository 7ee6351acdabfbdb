import { Writable } from 'node:stream';
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  type GraphQLField,
  type GraphQLInputType,
  type IntrospectionQuery,
} from 'graphql';
import pino from 'pino';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, gql, type GraphQLResponse } from '../helpers/graphql';
import { unique, type SeededUser } from '../helpers/seed';

const SCOPES = ['TASKS_READ', 'TASKS_WRITE', 'TOOLS_INVOKE', 'USAGE_READ'] as const;
type Scope = (typeof SCOPES)[number];
/** The contract: what each scope opens, and what is open to anyone. */
const SCOPE_FIELDS: Record<Scope, string[]> = {
  TASKS_READ: ['me', 'task', 'tasks'],
  TASKS_WRITE: ['createTask', 'updateTask', 'deleteTask'],
  TOOLS_INVOKE: ['tools', 'tool', 'invokeTool'],
  USAGE_READ: ['mySubscription', 'myUsage', 'usageRecords'],
};
const PUBLIC_FIELDS = ['register', 'login', 'refreshToken', 'plans'];

let t: TestApp;
let owner: SeededUser;
/** A key with exactly one scope, and one with every scope but that one. */
const only = {} as Record<Scope, { id: string; secret: string }>;
const lacking = {} as Record<Scope, { id: string; secret: string }>;
let allScopes: { id: string; secret: string };

beforeAll(async () => {
  t = await startTestApp();
  owner = await t.seed.user();
  for (const scope of SCOPES) {
    only[scope] = await t.seed.apiKey(owner, [scope]);
    lacking[scope] = await t.seed.apiKey(
      owner,
      SCOPES.filter((s) => s !== scope),
    );
  }
  allScopes = await t.seed.apiKey(owner, [...SCOPES]);
});
afterAll(async () => {
  await t.close();
});

const call = <T = Record<string, any>>(
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
  app: TestApp = t,
): Promise<GraphQLResponse<T>> => app.gql<T>(query, variables, token);

function expectForbidden(res: GraphQLResponse, field: string) {
  const err = expectErrorCode(res, 'FORBIDDEN');
  expect(err.path).toEqual([field]);
  expect(res.data ?? { [field]: null }).toEqual({ [field]: null });
  return err;
}

/** The owner's task, or null once it is gone (a missing task answers NOT_FOUND). */
const taskTitle = async (id: string) => {
  const res = await call(
    `query($id: ID!) { task(id: $id) { title status } }`,
    { id },
    owner.accessToken,
  );
  if (res.errors) {
    expectErrorCode(res, 'NOT_FOUND');
    return null;
  }
  return res.data!.task as { title: string; status: string } | null;
};
const countTasks = async (search: string) =>
  expectNoErrors(
    await call(
      `query($s: String!) { tasks(filter: { search: $s }) { totalCount } }`,
      { s: search },
      owner.accessToken,
    ),
  ).tasks.totalCount as number;
const countUsage = async () =>
  expectNoErrors(await call(`{ usageRecords { totalCount } }`, {}, owner.accessToken)).usageRecords
    .totalCount as number;

interface ScopedOperation {
  scope: Scope;
  field: string;
  query: string;
  /** Fresh variables for one call (a fresh task to delete, …). */
  variables(): Promise<Record<string, unknown>>;
  /** Checks the values an allowed call answers. */
  /** `key` is the key used, null for the owner's access token. */
  allowed(
    data: any,
    variables: Record<string, unknown>,
    key: { id: string | null },
  ): Promise<void> | void;
  /** Checks that a refused call changed nothing. */
  unchanged?(variables: Record<string, unknown>): Promise<void>;
}

const OPERATIONS: ScopedOperation[] = [
  {
    scope: 'TASKS_READ',
    field: 'me',
    query: `{ me { id email } }`,
    variables: async () => ({}),
    allowed: (data) => expect(data.me).toEqual({ id: owner.id, email: owner.email }),
  },
  {
    scope: 'TASKS_READ',
    field: 'task',
    query: `query($id: ID!) { task(id: $id) { id title } }`,
    variables: async () => ({ id: (await t.seed.task(owner, { title: 'Read me' })).id }),
    allowed: (data, v) => expect(data.task).toEqual({ id: v.id, title: 'Read me' }),
  },
  {
    scope: 'TASKS_READ',
    field: 'tasks',
    query: `query($s: String!) { tasks(filter: { search: $s }) { totalCount nodes { id } } }`,
    variables: async () => {
      const title = unique('listed');
      const task = await t.seed.task(owner, { title });
      return { s: title, id: task.id };
    },
    allowed: (data, v) => expect(data.tasks).toEqual({ totalCount: 1, nodes: [{ id: v.id }] }),
  },
  {
    scope: 'TASKS_WRITE',
    field: 'createTask',
    query: `mutation($title: String!) { createTask(input: { title: $title }) { title status owner { id } } }`,
    variables: async () => ({ title: unique('created') }),
    allowed: (data, v) =>
      expect(data.createTask).toEqual({ title: v.title, status: 'TODO', owner: { id: owner.id } }),
    unchanged: async (v) => expect(await countTasks(v.title as string)).toBe(0),
  },
  {
    scope: 'TASKS_WRITE',
    field: 'updateTask',
    query: `mutation($id: ID!) { updateTask(id: $id, input: { status: DONE, title: "Done by key" }) { id title status } }`,
    variables: async () => ({ id: (await t.seed.task(owner, { title: 'To update' })).id }),
    allowed: (data, v) =>
      expect(data.updateTask).toEqual({ id: v.id, title: 'Done by key', status: 'DONE' }),
    unchanged: async (v) =>
      expect(await taskTitle(v.id as string)).toEqual({ title: 'To update', status: 'TODO' }),
  },
  {
    scope: 'TASKS_WRITE',
    field: 'deleteTask',
    query: `mutation($id: ID!) { deleteTask(id: $id) }`,
    variables: async () => ({ id: (await t.seed.task(owner, { title: 'To delete' })).id }),
    allowed: async (data, v) => {
      expect(data.deleteTask).toBe(v.id);
      expect(await taskTitle(v.id as string)).toBeNull();
    },
    unchanged: async (v) =>
      expect(await taskTitle(v.id as string)).toEqual({ title: 'To delete', status: 'TODO' }),
  },
  {
    scope: 'TOOLS_INVOKE',
    field: 'tools',
    query: `{ tools(first: 100) { totalCount nodes { slug requiredTier } } }`,
    variables: async () => ({}),
    allowed: (data) => {
      expect(data.tools.totalCount).toBeGreaterThanOrEqual(3);
      expect(data.tools.nodes).toEqual(
        expect.arrayContaining([
          { slug: 'text-stats', requiredTier: 'FREE' },
          { slug: 'summarize', requiredTier: 'FREE' },
          { slug: 'sentiment', requiredTier: 'PRO' },
        ]),
      );
    },
  },
  {
    scope: 'TOOLS_INVOKE',
    field: 'tool',
    query: `{ tool(slug: "text-stats") { slug requiredTier isActive } }`,
    variables: async () => ({}),
    allowed: (data) =>
      expect(data.tool).toEqual({ slug: 'text-stats', requiredTier: 'FREE', isActive: true }),
  },
  {
    scope: 'TOOLS_INVOKE',
    field: 'invokeTool',
    query: `mutation($text: String!) { invokeTool(slug: "text-stats", input: { text: $text }) {
      output usage { status user { id } apiKey { id } } } }`,
    variables: async () => ({ text: 'One two three. Four five.' }),
    allowed: (data, _v, key) => {
      expect(data.invokeTool.output).toMatchObject({ words: 5, sentences: 2 });
      expect(data.invokeTool.usage).toEqual({
        status: 'SUCCEEDED',
        user: { id: owner.id },
        apiKey: key.id ? { id: key.id } : null,
      });
    },
  },
  {
    scope: 'USAGE_READ',
    field: 'mySubscription',
    query: `{ mySubscription { plan { tier } tokensUsed tokensRemaining } }`,
    variables: async () => ({}),
    allowed: (data) => {
      expect(data.mySubscription.plan).toEqual({ tier: 'FREE' });
      expect(data.mySubscription.tokensUsed + data.mySubscription.tokensRemaining).toBe(10_000);
    },
  },
  {
    scope: 'USAGE_READ',
    field: 'myUsage',
    query: `{ myUsage { calls totalTokens } }`,
    variables: async () => ({}),
    allowed: (data) => expect(data.myUsage.calls).toBeGreaterThanOrEqual(0),
  },
  {
    scope: 'USAGE_READ',
    field: 'usageRecords',
    query: `{ usageRecords(first: 1) { totalCount nodes { user { id } } } }`,
    variables: async () => ({}),
    allowed: (data) => expect(data.usageRecords.totalCount).toBeGreaterThanOrEqual(0),
  },
];

describe('API key scopes', () => {
  it.each(OPERATIONS.map((op) => [op.field, op.scope, op] as const))(
    '%s: allowed with %s, FORBIDDEN with a key that has every other scope',
    async (field, scope, op) => {
      const usageBefore = await countUsage();
      const refusedVars = await op.variables();
      const refused = await call(op.query, refusedVars, lacking[scope].secret);
      const err = expectForbidden(refused, field);
      expect(err.extensions?.requiredScope).toBe(scope);
      await op.unchanged?.(refusedVars);
      // A refused call never reaches a tool: nothing is recorded or charged.
      expect(await countUsage()).toBe(usageBefore);

      for (const key of [only[scope], allScopes]) {
        const vars = await op.variables();
        await op.allowed(expectNoErrors(await call(op.query, vars, key.secret)), vars, key);
      }
      // The owner's access token needs no scope.
      const vars = await op.variables();
      await op.allowed(expectNoErrors(await call(op.query, vars, owner.accessToken)), vars, {
        id: null,
      });
    },
  );

  it('checks scopes on nested fields too: User.subscription and usage need USAGE_READ, User.tasks needs TASKS_READ', async () => {
    const sub = `{ me { id subscription { plan { tier } } } }`;
    expectErrorCode(await call(sub, {}, only.TASKS_READ.secret), 'FORBIDDEN');
    expectErrorCode(
      await call(`{ me { usage { calls } } }`, {}, only.TASKS_READ.secret),
      'FORBIDDEN',
    );
    const both = await t.seed.apiKey(owner, ['TASKS_READ', 'USAGE_READ']);
    expect(expectNoErrors(await call(sub, {}, both.secret)).me).toEqual({
      id: owner.id,
      subscription: { plan: { tier: 'FREE' } },
    });
    // Reaching the owner through a usage record does not open their tasks to a USAGE_READ key.
    expectNoErrors(
      await call(
        `mutation { invokeTool(slug: "text-stats", input: { text: "Hi." }) { usage { id } } }`,
        {},
        owner.accessToken,
      ),
    );
    const viaRecord = await call(
      `{ usageRecords(first: 1) { nodes { user { id tasks { totalCount } } } } }`,
      {},
      only.USAGE_READ.secret,
    );
    const err = expectErrorCode(viaRecord, 'FORBIDDEN');
    expect(err.path).toEqual(['usageRecords', 'nodes', 0, 'user', 'tasks']);
    expect(viaRecord.data?.usageRecords ?? null).toBeNull();
  });

  it('a partner with a USAGE_READ key alone pages usageRecords and reads myUsage and mySubscription, and nothing else', async () => {
    const partner = await t.seed.user();
    const key = await t.seed.apiKey(partner, ['USAGE_READ']);
    const texts = ['First call here.', 'A second, longer call with more words in it.'];
    const charged: number[] = [];
    for (const text of texts) {
      const res = expectNoErrors(
        await call(
          `mutation($text: String!) { invokeTool(slug: "text-stats", input: { text: $text }) { usage { id totalTokens } } }`,
          { text },
          partner.accessToken,
        ),
      );
      charged.push(res.invokeTool.usage.totalTokens);
    }
    const total = charged[0]! + charged[1]!;
    const PAGE = `query($after: String) { usageRecords(first: 1, after: $after) {
      totalCount nodes { totalTokens status tool { slug } user { id } apiKey { id } }
      pageInfo { hasNextPage endCursor } } }`;
    const page1 = expectNoErrors(await call(PAGE, {}, key.secret)).usageRecords;
    expect(page1.totalCount).toBe(2);
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = expectNoErrors(
      await call(PAGE, { after: page1.pageInfo.endCursor }, key.secret),
    ).usageRecords;
    expect(page2.pageInfo.hasNextPage).toBe(false);
    // Newest first.
    expect([...page1.nodes, ...page2.nodes]).toEqual(
      [charged[1], charged[0]].map((totalTokens) => ({
        totalTokens,
        status: 'SUCCEEDED',
        tool: { slug: 'text-stats' },
        user: { id: partner.id },
        apiKey: null,
      })),
    );
    const usage = expectNoErrors(
      await call(
        `{ myUsage { calls totalTokens byTool { tool { slug } calls totalTokens } } }`,
        {},
        key.secret,
      ),
    ).myUsage;
    expect(usage).toEqual({
      calls: 2,
      totalTokens: total,
      byTool: [{ tool: { slug: 'text-stats' }, calls: 2, totalTokens: total }],
    });
    const sub = expectNoErrors(
      await call(`{ mySubscription { plan { tier } tokensUsed tokensRemaining } }`, {}, key.secret),
    ).mySubscription;
    expect(sub).toEqual({
      plan: { tier: 'FREE' },
      tokensUsed: total,
      tokensRemaining: 10_000 - total,
    });
    for (const [field, query] of [
      ['me', `{ me { id } }`],
      ['tasks', `{ tasks { totalCount } }`],
      ['tools', `{ tools { totalCount } }`],
      [
        'invokeTool',
        `mutation { invokeTool(slug: "text-stats", input: { text: "x" }) { output } }`,
      ],
    ] as const) {
      expectForbidden(await call(query, {}, key.secret), field);
    }
    expect(
      expectNoErrors(await call(`{ mySubscription { tokensUsed } }`, {}, key.secret)).mySubscription
        .tokensUsed,
    ).toBe(total);
  });
});

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

describe('default deny over the whole schema', () => {
  /** A literal for an input type, filling only what is required. */
  function literal(type: GraphQLInputType): string {
    if (isNonNullType(type)) return literal(type.ofType);
    if (isListType(type)) return `[${literal(type.ofType)}]`;
    if (isEnumType(type)) return type.getValues()[0]!.name;
    if (isInputObjectType(type)) {
      const fields = Object.values(type.getFields()).filter(
        (f) => isNonNullType(f.type) && f.defaultValue === undefined,
      );
      return `{ ${fields.map((f) => `${f.name}: ${literal(f.type)}`).join(', ')} }`;
    }
    switch (type.name) {
      case 'ID':
        return '"00000000-0000-4000-8000-000000000000"';
      case 'Int':
      case 'Float':
        return '1';
      case 'Boolean':
        return 'true';
      case 'DateTime':
        return '"2099-01-01T00:00:00Z"';
      case 'JSON':
        return '{ type: "object" }';
      default:
        return '"x"';
    }
  }

  function operationFor(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>) {
    const args = field.args
      .filter((a) => isNonNullType(a.type) && a.defaultValue === undefined)
      .map((a) => `${a.name}: ${literal(a.type)}`);
    const selection = isObjectType(getNamedType(getNullableType(field.type)))
      ? ' { __typename }'
      : '';
    return `${kind} { ${field.name}${args.length ? `(${args.join(', ')})` : ''}${selection} }`;
  }

  let roots: { kind: 'query' | 'mutation'; field: GraphQLField<unknown, unknown> }[];
  beforeAll(async () => {
    const res = expectNoErrors(await call<IntrospectionQuery>(getIntrospectionQuery()));
    const schema = buildClientSchema(res);
    roots = [
      ...Object.values(schema.getQueryType()!.getFields()).map((field) => ({
        kind: 'query' as const,
        field,
      })),
      ...Object.values(schema.getMutationType()!.getFields()).map((field) => ({
        kind: 'mutation' as const,
        field,
      })),
    ];
    if (roots.length < 30) throw new Error(`only ${roots.length} root fields introspected`);
  });

  it('refuses every root field but register, login, refreshToken and plans to anonymous callers', async () => {
    const notRefused: string[] = [];
    for (const { kind, field } of roots) {
      if (PUBLIC_FIELDS.includes(field.name)) continue;
      const res = await call(operationFor(kind, field));
      if (!res.errors?.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) {
        notRefused.push(`${field.name}: ${JSON.stringify(res.errors ?? res.data)}`);
      }
    }
    expect(notRefused).toEqual([]);
    expect(expectNoErrors(await call(`{ plans { tier } }`)).plans).toHaveLength(3);
  });

  it('refuses every ADMIN field to a user, and everything outside its scopes to a key with all of them', async () => {
    const scoped = Object.values(SCOPE_FIELDS).flat();
    const notRefused: string[] = [];
    let adminFields = 0;
    for (const { kind, field } of roots) {
      const doc = operationFor(kind, field);
      if (field.description?.startsWith('ADMIN')) {
        adminFields += 1;
        const res = await call(doc, {}, owner.accessToken);
        if (!res.errors?.some((e) => e.extensions?.code === 'FORBIDDEN')) {
          notRefused.push(`${field.name} to a user: ${JSON.stringify(res.errors ?? res.data)}`);
        }
      }
      if (!PUBLIC_FIELDS.includes(field.name) && !scoped.includes(field.name)) {
        const res = await call(doc, {}, allScopes.secret);
        if (!res.errors?.some((e) => e.extensions?.code === 'FORBIDDEN')) {
          notRefused.push(`${field.name} to a key: ${JSON.stringify(res.errors ?? res.data)}`);
        }
      }
    }
    expect(notRefused).toEqual([]);
    // users, user, allTasks, allUsageRecords, adminStats, auditLog and the six admin mutations.
    expect(adminFields).toBeGreaterThanOrEqual(12);
  });
});

describe('errors', () => {
  it('GraphQL validation and syntax errors carry BAD_USER_INPUT', async () => {
    const unknownField = await call(`{ me { id nope } }`, {}, owner.accessToken);
    expect(unknownField.status).toBe(400);
    expect(expectErrorCode(unknownField, 'BAD_USER_INPUT').message).toContain('nope');
    expectErrorCode(await call(`{ me { id `, {}, owner.accessToken), 'BAD_USER_INPUT');
    expectErrorCode(await call(`{ nope }`, {}, owner.accessToken), 'BAD_USER_INPUT');
    expectErrorCode(
      await call(`{ tasks(first: "ten") { totalCount } }`, {}, owner.accessToken),
      'BAD_USER_INPUT',
    );
    expectErrorCode(await call(`{ me }`, {}, owner.accessToken), 'BAD_USER_INPUT');
    expectErrorCode(await call(``, {}, owner.accessToken), 'BAD_USER_INPUT');
  });

  it('variables of the wrong type, missing or with unknown enum values carry BAD_USER_INPUT, never an internal error', async () => {
    const TASKS = `query($n: Int) { tasks(first: $n) { totalCount } }`;
    const wrongType = await call(TASKS, { n: 'ten' }, owner.accessToken);
    expect(wrongType.status).toBe(400);
    expect(expectErrorCode(wrongType, 'BAD_USER_INPUT').extensions?.fields).toEqual(['n']);
    const CREATE = `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }`;
    expectErrorCode(await call(CREATE, {}, owner.accessToken), 'BAD_USER_INPUT');
    expectErrorCode(
      await call(CREATE, { i: { name: 'k', scopes: ['EVERYTHING'] } }, owner.accessToken),
      'BAD_USER_INPUT',
    );
    expectErrorCode(await call(CREATE, { i: { name: 'k' } }, owner.accessToken), 'BAD_USER_INPUT');
  });

  it.each([['production'], ['development']] as const)(
    'an unexpected error leaves as INTERNAL_SERVER_ERROR with no SQL, stack or internal message in %s, and is logged with the request id',
    async (nodeEnv) => {
      // A clock that turns invalid on demand makes the next write fail inside the database driver.
      let broken = false;
      const lines: string[] = [];
      const logger = pino(
        { level: 'error' },
        new Writable({
          write(chunk, _enc, done) {
            lines.push(String(chunk));
            done();
          },
        }),
      );
      const prod = await startTestApp(
        { nodeEnv, isProduction: nodeEnv === 'production' },
        { clock: { now: () => (broken ? new Date(Number.NaN) : new Date()) }, logger },
      );
      try {
        const u = await prod.seed.user();
        broken = true;
        const res = await gql(
          prod.url,
          `mutation { createApiKey(input: { name: "boom", scopes: [TASKS_READ] }) { secret } }`,
          {},
          u.accessToken,
          { 'x-request-id': `masking-test-${nodeEnv}` },
        );
        broken = false;
        expect(res.errors).toEqual([
          {
            message: 'Internal server error',
            path: ['createApiKey'],
            extensions: { code: 'INTERNAL_SERVER_ERROR' },
          },
        ]);
        expect(res.data).toBeNull();
        const body = JSON.stringify(res);
        for (const leak of [/insert/i, /api_keys/i, /\bat \w/, /\.ts:\d+/, /NaN/, /timestamp/i]) {
          expect(body).not.toMatch(leak);
        }
        // The full error is in the log, under the request id the client sent.
        const logged = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'unexpected error');
        expect(logged).toMatchObject({ requestId: `masking-test-${nodeEnv}` });
        expect(JSON.stringify(logged.err)).toMatch(/api_keys|invalid|NaN/i);
        // Nothing was written.
        expect(
          expectNoErrors(await prod.gql(`{ apiKeys { id } }`, {}, u.accessToken)).apiKeys,
        ).toEqual([]);
      } finally {
        await prod.close();
      }
    },
  );
});
