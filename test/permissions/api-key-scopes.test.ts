import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors } from '../helpers/graphql';
import { unique, type SeededUser } from '../helpers/seed';
import {
  caller,
  expectForbidden,
  seedScopedKeys,
  type Key,
  type Scope,
  type ScopedKeys,
} from './permission-fixtures';

let t: TestApp;
let owner: SeededUser;
/** A key with exactly one scope, and one with every scope but that one. */
let only: ScopedKeys['only'];
let lacking: ScopedKeys['lacking'];
let allScopes: Key;
beforeAll(async () => {
  t = await startTestApp();
  ({ owner, only, lacking, allScopes } = await seedScopedKeys(t));
});
afterAll(async () => {
  await t.close();
});
const call = caller(() => t);

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
