import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors } from '../helpers/graphql';
import type { SeededUser } from '../helpers/seed';
import {
  createTool,
  INVOKE,
  sendJson,
  startUpstream,
  type FakeUpstream,
} from '../tools/fake-upstream';

const RECORD = `id status errorCode totalTokens createdAt tool { slug } user { id }`;
const PAGE = `query($first: Int, $after: String, $filter: UsageFilter) {
  usageRecords(first: $first, after: $after, filter: $filter) {
    totalCount
    edges { cursor node { id } }
    nodes { ${RECORD} }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;
const STATS = `{ adminStats { users activeUsers admins calls(last: 30) tokens(last: 30) topTools(limit: 5) { tool { slug } calls totalTokens } } }`;

let t: TestApp;
let admin: SeededUser;
let user: SeededUser;
let other: SeededUser;
let up: FakeUpstream;
let failingSlug: string;
/** What `user` did, newest last. */
const made: { id: string; slug: string; status: string; totalTokens: number }[] = [];
let statsBefore: any;

beforeAll(async () => {
  t = await startTestApp();
  admin = await t.seed.admin();
  statsBefore = expectNoErrors(await t.gql(STATS, {}, admin.accessToken)).adminStats;
  [user, other] = await Promise.all([t.seed.user(), t.seed.user()]);
  up = await startUpstream((_req, res) => sendJson(res, 500, { error: 'down' }));
  failingSlug = (await createTool(t, admin.accessToken, { endpointUrl: up.url })).slug;
  const calls: [string, unknown][] = [
    ['text-stats', { text: 'First call.' }],
    ['summarize', { text: 'One. Two. Three.', maxSentences: 1 }],
    ['text-stats', { text: 'Second text-stats call, a little longer.' }],
    [failingSlug, { q: 'x' }],
    ['text-stats', { text: 'Third.' }],
    ['summarize', { text: 'Alpha. Beta.', maxSentences: 2 }],
    ['text-stats', { text: 'Fourth and last.' }],
  ];
  for (const [slug, input] of calls) {
    const res = await t.gql<any>(INVOKE, { slug, input }, user.accessToken);
    if (slug === failingSlug) {
      expectErrorCode(res, 'UPSTREAM_ERROR');
      continue;
    }
    const usage = expectNoErrors(res).invokeTool.usage;
    made.push({ id: usage.id, slug, status: usage.status, totalTokens: usage.totalTokens });
  }
  // The failed call is recorded too; find its id.
  const failed = expectNoErrors(
    await t.gql<any>(PAGE, { filter: { status: 'FAILED' } }, user.accessToken),
  ).usageRecords.nodes;
  if (failed.length !== 1) throw new Error(`expected 1 FAILED record, got ${failed.length}`);
  made.splice(3, 0, { id: failed[0].id, slug: failingSlug, status: 'FAILED', totalTokens: 0 });
  expectNoErrors(
    await t.gql(INVOKE, { slug: 'text-stats', input: { text: 'Not mine.' } }, other.accessToken),
  );
});
afterAll(async () => {
  await up.close();
  await t.close();
});

const totalTokens = () => made.reduce((sum, r) => sum + r.totalTokens, 0);

describe('usageRecords', () => {
  it('pages through the caller’s records newest first without skipping or repeating', async () => {
    const seen: any[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page: any = expectNoErrors(
        await t.gql<any>(PAGE, { first: 3, after }, user.accessToken),
      ).usageRecords;
      pages += 1;
      expect(page.totalCount).toBe(made.length);
      expect(page.nodes.map((n: any) => n.id)).toEqual(page.edges.map((e: any) => e.node.id));
      expect(page.pageInfo.hasPreviousPage).toBe(after !== null);
      if (page.nodes.length > 0) {
        expect(page.pageInfo.startCursor).toBe(page.edges[0].cursor);
        expect(page.pageInfo.endCursor).toBe(page.edges[page.edges.length - 1].cursor);
      }
      seen.push(...page.nodes);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(pages).toBe(Math.ceil(made.length / 3));
    expect(seen.map((n) => n.id)).toEqual([...made].reverse().map((r) => r.id));
    for (const n of seen) expect(n.user.id).toBe(user.id);
    const times = seen.map((n) => new Date(n.createdAt).getTime());
    expect(times).toEqual([...times].sort((x, y) => y - x));
  });

  it('refuses a filter value over its limit with BAD_USER_INPUT naming it (usageRecords and tools)', async () => {
    const long = 'x'.repeat(500);
    const usage = expectErrorCode(
      await t.gql<any>(PAGE, { filter: { toolSlug: long } }, user.accessToken),
      'BAD_USER_INPUT',
    );
    expect(usage.extensions?.fields).toEqual(['filter.toolSlug']);
    const TOOLS = `query($f: ToolFilter) { tools(filter: $f) { nodes { slug } } }`;
    for (const [f, field] of [
      [{ search: long }, 'filter.search'],
      [{ category: long }, 'filter.category'],
    ] as const) {
      const err = expectErrorCode(
        await t.gql<any>(TOOLS, { f }, user.accessToken),
        'BAD_USER_INPUT',
      );
      expect(err.extensions?.fields).toEqual([field]);
    }
    // Within the limits, the same filters are accepted.
    expectNoErrors(
      await t.gql<any>(PAGE, { filter: { toolSlug: 'x'.repeat(64) } }, user.accessToken),
    );
    expectNoErrors(await t.gql<any>(TOOLS, { f: { search: 'x'.repeat(200) } }, user.accessToken));
  });

  it('filters by toolSlug and status', async () => {
    const textStats = expectNoErrors(
      await t.gql<any>(PAGE, { filter: { toolSlug: 'text-stats' } }, user.accessToken),
    ).usageRecords;
    const expected = made.filter((r) => r.slug === 'text-stats').reverse();
    expect(textStats.totalCount).toBe(expected.length);
    expect(textStats.nodes.map((n: any) => n.id)).toEqual(expected.map((r) => r.id));

    const failed = expectNoErrors(
      await t.gql<any>(PAGE, { filter: { status: 'FAILED' } }, user.accessToken),
    ).usageRecords;
    expect(failed.totalCount).toBe(1);
    expect(failed.nodes[0]).toMatchObject({
      status: 'FAILED',
      errorCode: 'UPSTREAM_ERROR',
      totalTokens: 0,
      tool: { slug: failingSlug },
    });

    const both = expectNoErrors(
      await t.gql<any>(
        PAGE,
        { first: 1, filter: { toolSlug: 'summarize', status: 'SUCCEEDED' } },
        user.accessToken,
      ),
    ).usageRecords;
    expect(both.totalCount).toBe(2);
    expect(both.nodes).toHaveLength(1);
    expect(both.pageInfo.hasNextPage).toBe(true);
    const second = expectNoErrors(
      await t.gql<any>(
        PAGE,
        {
          first: 1,
          after: both.pageInfo.endCursor,
          filter: { toolSlug: 'summarize', status: 'SUCCEEDED' },
        },
        user.accessToken,
      ),
    ).usageRecords;
    expect(second.nodes.map((n: any) => n.id)).toEqual([made[1]!.id]);
    expect(second.pageInfo.hasNextPage).toBe(false);

    const none = expectNoErrors(
      await t.gql<any>(PAGE, { filter: { toolSlug: 'no-such-tool' } }, user.accessToken),
    ).usageRecords;
    expect(none).toMatchObject({ totalCount: 0, nodes: [] });
    const future = expectNoErrors(
      await t.gql<any>(
        PAGE,
        { filter: { from: new Date(Date.now() + 3_600_000).toISOString() } },
        user.accessToken,
      ),
    ).usageRecords;
    expect(future.totalCount).toBe(0);
  });

  it('refuses first outside 1..100 and malformed cursors with BAD_USER_INPUT', async () => {
    for (const variables of [{ first: 0 }, { first: 101 }, { first: -1 }, { after: 'garbage' }]) {
      const err = expectErrorCode(await t.gql(PAGE, variables, user.accessToken), 'BAD_USER_INPUT');
      expect(err.extensions?.fields?.length).toBeGreaterThan(0);
    }
  });

  it('shows each user only their own records', async () => {
    const theirs = expectNoErrors(await t.gql<any>(PAGE, {}, other.accessToken)).usageRecords;
    expect(theirs.totalCount).toBe(1);
    expect(theirs.nodes[0].user.id).toBe(other.id);
    expect(made.map((r) => r.id)).not.toContain(theirs.nodes[0].id);
    expectErrorCode(await t.gql(PAGE, {}), 'UNAUTHENTICATED');
  });

  it('needs USAGE_READ on an API key', async () => {
    const reader = await t.seed.apiKey(user, ['USAGE_READ']);
    const invoker = await t.seed.apiKey(user, ['TOOLS_INVOKE']);
    expect(expectNoErrors(await t.gql<any>(PAGE, {}, reader.secret)).usageRecords.totalCount).toBe(
      made.length,
    );
    expectErrorCode(await t.gql(PAGE, {}, invoker.secret), 'FORBIDDEN');
    expectErrorCode(await t.gql(`{ myUsage { calls } }`, {}, invoker.secret), 'FORBIDDEN');
    expectErrorCode(
      await t.gql(`{ mySubscription { tokensUsed } }`, {}, invoker.secret),
      'FORBIDDEN',
    );
  });
});

describe('usage summaries', () => {
  it('myUsage, me.usage and mySubscription agree with the records', async () => {
    const data = expectNoErrors(
      await t.gql<any>(
        `{ myUsage { calls totalTokens byTool { tool { slug } calls totalTokens } }
           me { usage { calls totalTokens } }
           mySubscription { tokensUsed } }`,
        {},
        user.accessToken,
      ),
    );
    expect(data.myUsage.calls).toBe(made.length);
    expect(data.myUsage.totalTokens).toBe(totalTokens());
    expect(data.me.usage).toEqual({ calls: made.length, totalTokens: totalTokens() });
    expect(data.mySubscription.tokensUsed).toBe(totalTokens());
    const bySlug = new Map<string, { calls: number; tokens: number }>();
    for (const r of made) {
      const e = bySlug.get(r.slug) ?? { calls: 0, tokens: 0 };
      bySlug.set(r.slug, { calls: e.calls + 1, tokens: e.tokens + r.totalTokens });
    }
    expect(
      Object.fromEntries(
        data.myUsage.byTool.map((b: any) => [
          b.tool.slug,
          { calls: b.calls, tokens: b.totalTokens },
        ]),
      ),
    ).toEqual(Object.fromEntries(bySlug));
  });

  it('refuses a range that is empty or too long with BAD_USER_INPUT', async () => {
    const now = Date.now();
    for (const [from, to] of [
      [new Date(now).toISOString(), new Date(now - 1_000).toISOString()],
      [new Date(now - 500 * 86_400_000).toISOString(), new Date(now).toISOString()],
    ]) {
      expectErrorCode(
        await t.gql(
          `query($from: DateTime, $to: DateTime) { myUsage(from: $from, to: $to) { calls } }`,
          { from, to },
          user.accessToken,
        ),
        'BAD_USER_INPUT',
      );
    }
  });
});

describe('admin views of usage', () => {
  it('User.usage and User.subscription for admins; FORBIDDEN for other users', async () => {
    const Q = `query($id: ID!) { user(id: $id) { id usage { calls totalTokens byTool { tool { slug } calls } } subscription { tokensUsed } } }`;
    const data = expectNoErrors(await t.gql<any>(Q, { id: user.id }, admin.accessToken));
    expect(data.user.usage.calls).toBe(made.length);
    expect(data.user.usage.totalTokens).toBe(totalTokens());
    expect(data.user.subscription.tokensUsed).toBe(totalTokens());
    expectErrorCode(await t.gql(Q, { id: user.id }, other.accessToken), 'FORBIDDEN');

    // Batched across users in a list.
    const list = expectNoErrors(
      await t.gql<any>(
        `query($s: String!) { users(first: 5, filter: { search: $s }) { nodes { id usage { calls totalTokens } } } }`,
        { s: user.email },
        admin.accessToken,
      ),
    ).users.nodes;
    expect(list).toEqual([
      { id: user.id, usage: { calls: made.length, totalTokens: totalTokens() } },
    ]);
  });

  it('allUsageRecords is admin only and filters by user and status', async () => {
    const Q = `query($userId: ID, $filter: UsageFilter, $first: Int) {
      allUsageRecords(userId: $userId, filter: $filter, first: $first) { totalCount nodes { id user { id } status } }
    }`;
    expectErrorCode(await t.gql(Q, { userId: user.id }, user.accessToken), 'FORBIDDEN');
    const key = await t.seed.apiKey(admin, ['USAGE_READ']);
    expectErrorCode(await t.gql(Q, {}, key.secret), 'FORBIDDEN');

    const mine = expectNoErrors(
      await t.gql<any>(Q, { userId: user.id, first: 100 }, admin.accessToken),
    ).allUsageRecords;
    expect(mine.totalCount).toBe(made.length);
    expect(mine.nodes.map((n: any) => n.id)).toEqual([...made].reverse().map((r) => r.id));
    const failed = expectNoErrors(
      await t.gql<any>(Q, { userId: user.id, filter: { status: 'FAILED' } }, admin.accessToken),
    ).allUsageRecords;
    expect(failed.totalCount).toBe(1);
    const everyone = expectNoErrors(
      await t.gql<any>(Q, { first: 100 }, admin.accessToken),
    ).allUsageRecords;
    expect(everyone.totalCount).toBeGreaterThanOrEqual(made.length + 1);
    const owners = new Set(everyone.nodes.map((n: any) => n.user.id));
    expect(owners.size).toBeGreaterThanOrEqual(1);
    expectErrorCode(await t.gql(Q, { userId: 'not-a-uuid' }, admin.accessToken), 'BAD_USER_INPUT');
  });

  it('adminStats counts the calls and tokens made (other suites share the database, so as deltas)', async () => {
    expectErrorCode(await t.gql(STATS, {}, user.accessToken), 'FORBIDDEN');
    const after = expectNoErrors(await t.gql<any>(STATS, {}, admin.accessToken)).adminStats;
    const myCalls = made.length + 1; // and `other`'s one call
    expect(after.calls - statsBefore.calls).toBeGreaterThanOrEqual(myCalls);
    expect(after.tokens - statsBefore.tokens).toBeGreaterThanOrEqual(totalTokens());
    expect(after.users - statsBefore.users).toBeGreaterThanOrEqual(2);
    expect(after.activeUsers).toBeLessThanOrEqual(after.users);
    expect(after.admins).toBeGreaterThanOrEqual(1);
    expect(after.topTools.length).toBeGreaterThan(0);
    expect(after.topTools.length).toBeLessThanOrEqual(5);
    const tokens = after.topTools.map((x: any) => x.totalTokens);
    expect(tokens).toEqual([...tokens].sort((x: number, y: number) => y - x));
    // The window of the last day holds at least this suite's calls.
    const day = expectNoErrors(
      await t.gql<any>(`{ adminStats { calls(last: 1) tokens(last: 1) } }`, {}, admin.accessToken),
    ).adminStats;
    expect(day.calls).toBeGreaterThanOrEqual(myCalls);
    for (const last of [0, 367]) {
      expectErrorCode(
        await t.gql(
          `query($n: Int) { adminStats { calls(last: $n) } }`,
          { n: last },
          admin.accessToken,
        ),
        'BAD_USER_INPUT',
      );
    }
  });
});
