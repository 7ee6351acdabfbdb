import type { TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors } from '../helpers/graphql';
import type { SeededUser } from '../helpers/seed';
import {
  createTool,
  estimate,
  type FakeUpstream,
  FREE_QUOTA,
  invokeSuite,
  meter,
  sendJson,
  startUpstream,
  SUBSCRIPTION,
} from './fake-upstream';

let t: TestApp;
let admin: SeededUser;
const upstreams: FakeUpstream[] = [];

const invoke = invokeSuite((app, a) => ((t = app), (admin = a)), upstreams);

describe('metering', () => {
  it('keeps tokensUsed equal to the usage records and myUsage by tool and by UTC day', async () => {
    const u = await t.seed.user();
    const inputs: [string, Record<string, unknown>][] = [
      ['text-stats', { text: 'One sentence here.' }],
      ['text-stats', { text: 'Another, longer text. It has two sentences.' }],
      ['summarize', { text: 'Alpha beta. Gamma delta alpha. Epsilon.', maxSentences: 1 }],
      ['text-stats', { text: 'Short.' }],
    ];
    const expected = new Map<string, { calls: number; tokens: number }>();
    let total = 0;
    for (const [slug, input] of inputs) {
      const call = expectNoErrors(await invoke(u.accessToken, slug, input)).invokeTool;
      const tokens = estimate(input) + estimate(call.output);
      expect(call.usage.totalTokens).toBe(tokens);
      total += tokens;
      expect(call.subscription.tokensUsed).toBe(total);
      const entry = expected.get(slug) ?? { calls: 0, tokens: 0 };
      expected.set(slug, { calls: entry.calls + 1, tokens: entry.tokens + tokens });
    }
    const m = await meter(t, u.accessToken);
    expect(m).toEqual({ tokensUsed: total, records: 4, succeededTokens: total });

    const data = expectNoErrors(
      await t.gql(
        `{ myUsage { calls totalTokens byTool { tool { slug } calls totalTokens } byDay { day calls totalTokens } }
           usageRecords { nodes { createdAt totalTokens } } }`,
        {},
        u.accessToken,
      ),
    );
    expect(data.myUsage.calls).toBe(4);
    expect(data.myUsage.totalTokens).toBe(total);
    expect(
      data.myUsage.byTool.map((b: any) => [b.tool.slug, b.calls, b.totalTokens]).sort(),
    ).toEqual([...expected.entries()].map(([slug, e]) => [slug, e.calls, e.tokens]).sort());
    // Most tokens first.
    const tokens = data.myUsage.byTool.map((b: any) => b.totalTokens);
    expect(tokens).toEqual([...tokens].sort((a: number, b: number) => b - a));
    const byDay = new Map<string, { day: string; calls: number; totalTokens: number }>();
    for (const r of data.usageRecords.nodes) {
      const day = new Date(r.createdAt).toISOString().slice(0, 10);
      const entry = byDay.get(day) ?? { day, calls: 0, totalTokens: 0 };
      entry.calls += 1;
      entry.totalTokens += r.totalTokens;
      byDay.set(day, entry);
    }
    expect(data.myUsage.byDay).toEqual(
      [...byDay.values()].sort((a, b) => (a.day < b.day ? -1 : 1)),
    );
    for (const d of data.myUsage.byDay) expect(d.day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });
});

describe('plan changes', () => {
  it('keeps the tokens spent this period across an upgrade and a downgrade', async () => {
    const u = await t.seed.user();
    const first = expectNoErrors(
      await invoke(u.accessToken, 'text-stats', { text: 'Spent on FREE.' }),
    ).invokeTool;
    const spent = first.usage.totalTokens;
    expect(spent).toBeGreaterThan(0);

    const up = expectNoErrors(
      await t.gql(
        `mutation { changePlan(tier: PRO) { plan { tier } tokensUsed tokensRemaining } }`,
        {},
        u.accessToken,
      ),
    ).changePlan;
    expect(up).toEqual({
      plan: { tier: 'PRO' },
      tokensUsed: spent,
      tokensRemaining: 1_000_000 - spent,
    });
    const pro = expectNoErrors(
      await invoke(u.accessToken, 'sentiment', { text: 'Works right away, great.' }),
    ).invokeTool;
    expect(pro.subscription.plan.tier).toBe('PRO');
    const total = spent + pro.usage.totalTokens;
    expect(pro.subscription.tokensUsed).toBe(total);

    const down = expectNoErrors(
      await t.gql(
        `mutation { changePlan(tier: FREE) { plan { tier } tokensUsed tokensRemaining } }`,
        {},
        u.accessToken,
      ),
    ).changePlan;
    expect(down).toEqual({
      plan: { tier: 'FREE' },
      tokensUsed: total,
      tokensRemaining: FREE_QUOTA - total,
    });
    expectErrorCode(await invoke(u.accessToken, 'sentiment', { text: 'Again.' }), 'FORBIDDEN');
    const sub = expectNoErrors(await t.gql(SUBSCRIPTION, {}, u.accessToken)).mySubscription;
    expect(sub).toMatchObject({
      tokensUsed: total,
      tokensRemaining: FREE_QUOTA - total,
      plan: { tier: 'FREE' },
    });
    expect(await meter(t, u.accessToken)).toEqual({
      tokensUsed: total,
      records: 2,
      succeededTokens: total,
    });
  });

  it('a downgrade below what was spent leaves tokensRemaining at 0 and refuses further calls', async () => {
    const up = await startUpstream((_req, res) =>
      sendJson(res, 200, { output: 'big', usage: { inputTokens: 0, outputTokens: 12_000 } }),
    );
    upstreams.push(up);
    const tool = await createTool(t, admin.accessToken, {
      endpointUrl: up.url,
      maxOutputTokens: 20_000,
    });
    const u = await t.seed.user({ plan: 'PRO' });
    expectNoErrors(await invoke(u.accessToken, tool.slug, {}));
    const down = expectNoErrors(
      await t.gql(
        `mutation { changePlan(tier: FREE) { tokensUsed tokensRemaining } }`,
        {},
        u.accessToken,
      ),
    ).changePlan;
    expect(down).toEqual({ tokensUsed: 12_000, tokensRemaining: 0 });
    const err = expectErrorCode(
      await invoke(u.accessToken, 'text-stats', { text: 'One more?' }),
      'QUOTA_EXCEEDED',
    );
    expect(err.extensions?.tokensRemaining).toBe(0);
    expect(await meter(t, u.accessToken)).toEqual({
      tokensUsed: 12_000,
      records: 1,
      succeededTokens: 12_000,
    });
  });

  it('an ENTERPRISE period past 2^31 - 1 tokens keeps answering, tokensUsed saturating at the largest Int', async () => {
    const u = await t.seed.user({ plan: 'ENTERPRISE' });
    expectNoErrors(await invoke(u.accessToken, 'text-stats', { text: 'Warm up.' }));
    // Three billion tokens this month: more than GraphQL's Int can carry.
    await t.app.orm.em
      .fork()
      .getConnection()
      .execute(`update subscriptions set tokens_used = 3000000000 where user_id = ?`, [u.id]);
    const call = expectNoErrors(
      await invoke(u.accessToken, 'text-stats', { text: 'Still served.' }),
    ).invokeTool;
    expect(call.subscription).toEqual({
      tokensUsed: 2_147_483_647,
      tokensRemaining: null,
      plan: { tier: 'ENTERPRISE' },
    });
    const rows = await t.app.orm.em
      .fork()
      .getConnection()
      .execute(`select tokens_used::text as used from subscriptions where user_id = ?`, [u.id]);
    // The database keeps the exact count; only what GraphQL shows saturates.
    expect(rows[0].used).toBe(String(3_000_000_000 + call.usage.totalTokens));
  });

  it('ENTERPRISE has no quota: tokensRemaining is null', async () => {
    const u = await t.seed.user({ plan: 'ENTERPRISE' });
    const call = expectNoErrors(
      await invoke(u.accessToken, 'text-stats', { text: 'Big plan.' }),
    ).invokeTool;
    expect(call.subscription).toEqual({
      tokensUsed: call.usage.totalTokens,
      tokensRemaining: null,
      plan: { tier: 'ENTERPRISE' },
    });
  });
});

describe('a charged call', () => {
  it('reads its answer in the charge’s own transaction: nothing after the commit', async () => {
    const user = await t.seed.user();
    let res: Awaited<ReturnType<typeof invoke>> | undefined;
    const statements = await t.countQueries(async () => {
      res = await invoke(user.accessToken, 'text-stats', { text: 'one two three' });
    });
    const answer = expectNoErrors(res!).invokeTool;
    expect(answer.subscription.tokensUsed).toBe(answer.usage.totalTokens);
    expect(answer.subscription.tokensUsed).toBeGreaterThan(0);
    // Once the charge commits, a pool or a deadline that runs out can no longer answer
    // SERVICE_UNAVAILABLE ("nothing was written") for a call that was charged.
    const lower = statements.map((s) => s.trim().toLowerCase().replace(/;$/, ''));
    const commit = lower.lastIndexOf('commit');
    expect(commit).toBeGreaterThan(-1);
    expect(lower.slice(commit + 1)).toEqual([]);
  });
});
