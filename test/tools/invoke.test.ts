import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, type GraphQLResponse } from '../helpers/graphql';
import type { SeededUser } from '../helpers/seed';
import {
  createTool,
  estimate,
  INVOKE,
  meter,
  sendJson,
  startUpstream,
  SUBSCRIPTION,
  type FakeUpstream,
} from './fake-upstream';

const FREE_QUOTA = 10_000;

let t: TestApp;
let admin: SeededUser;
const upstreams: FakeUpstream[] = [];

beforeAll(async () => {
  t = await startTestApp();
  admin = await t.seed.admin();
});
afterAll(async () => {
  await Promise.all(upstreams.map((u) => u.close()));
  await t.close();
});

async function invoke(
  token: string,
  slug: string,
  input: unknown,
  key?: string,
  app: TestApp = t,
): Promise<GraphQLResponse<any>> {
  return app.gql<any>(INVOKE, { slug, input, key }, token);
}

describe('built-in tools through invokeTool', () => {
  let refusedUser: SeededUser | undefined;
  it('text-stats works for a FREE user and is metered at ceil(JSON chars / 4) each way', async () => {
    const u = await t.seed.user();
    const input = { text: 'Hello world. How are you today? Fine!' };
    const data = expectNoErrors(await invoke(u.accessToken, 'text-stats', input));
    const call = data.invokeTool;
    expect(call.output).toEqual({
      characters: 37,
      charactersNoSpaces: 31,
      words: 7,
      sentences: 3,
      paragraphs: 1,
      averageWordLength: 4,
      readingTimeSeconds: 2,
    });
    expect(call.replayed).toBe(false);
    const inputTokens = estimate(input);
    const outputTokens = estimate(call.output);
    expect(inputTokens).toBe(Math.ceil(JSON.stringify(input).length / 4));
    expect(call.usage).toMatchObject({
      status: 'SUCCEEDED',
      errorCode: null,
      inputTokens,
      outputTokens,
      totalTokens: inputTokens + outputTokens,
      tool: { slug: 'text-stats' },
    });
    expect(call.usage.latencyMs).toBeGreaterThanOrEqual(0);
    expect(call.subscription).toEqual({
      tokensUsed: inputTokens + outputTokens,
      tokensRemaining: FREE_QUOTA - inputTokens - outputTokens,
      plan: { tier: 'FREE' },
    });
    const sub = expectNoErrors(await t.gql(SUBSCRIPTION, {}, u.accessToken)).mySubscription;
    expect(sub.tokensUsed).toBe(inputTokens + outputTokens);
    const records = expectNoErrors(
      await t.gql(
        `{ usageRecords { totalCount nodes { id status inputTokens outputTokens totalTokens } } }`,
        {},
        u.accessToken,
      ),
    ).usageRecords;
    expect(records.totalCount).toBe(1);
    expect(records.nodes[0]).toEqual({
      id: call.usage.id,
      status: 'SUCCEEDED',
      inputTokens,
      outputTokens,
      totalTokens: inputTokens + outputTokens,
    });
  });

  it('summarize picks the maxSentences most representative sentences, in text order', async () => {
    const u = await t.seed.user();
    const input = {
      text:
        'Cats are small animals. Cats like to sleep in the sun. Dogs are loyal animals. ' +
        'Cats and dogs can live together. The weather is nice.',
      maxSentences: 2,
    };
    const call = expectNoErrors(await invoke(u.accessToken, 'summarize', input)).invokeTool;
    expect(call.output).toEqual({
      summary: 'Cats are small animals. Cats and dogs can live together.',
      sentences: ['Cats are small animals.', 'Cats and dogs can live together.'],
      sentenceCount: 2,
      originalSentenceCount: 5,
    });
    expect(call.usage.inputTokens).toBe(estimate(input));
    expect(call.usage.outputTokens).toBe(estimate(call.output));
    expect(call.subscription.tokensUsed).toBe(estimate(input) + estimate(call.output));
  });

  it('refuses sentiment to FREE with FORBIDDEN (requiredTier PRO), writing nothing; PRO may use it at once', async () => {
    const u = await t.seed.user();
    const input = {
      text: 'I love this product, it is excellent and the support team was very helpful.',
    };
    const err = expectErrorCode(await invoke(u.accessToken, 'sentiment', input), 'FORBIDDEN');
    expect(err.extensions?.requiredTier).toBe('PRO');
    expect(await meter(t, u.accessToken)).toEqual({
      tokensUsed: 0,
      records: 0,
      succeededTokens: 0,
    });

    const plan = expectNoErrors(
      await t.gql(
        `mutation { changePlan(tier: PRO) { plan { tier monthlyTokenQuota } tokensUsed tokensRemaining } }`,
        {},
        u.accessToken,
      ),
    ).changePlan;
    expect(plan).toEqual({
      plan: { tier: 'PRO', monthlyTokenQuota: 1_000_000 },
      tokensUsed: 0,
      tokensRemaining: 1_000_000,
    });
    const call = expectNoErrors(await invoke(u.accessToken, 'sentiment', input)).invokeTool;
    expect(call.output).toMatchObject({ label: 'positive' });
    expect(call.output.score).toBeGreaterThan(0.5);
    expect(call.output.score).toBeLessThanOrEqual(1);
    expect(call.output.positiveWords).toEqual(
      expect.arrayContaining(['love', 'excellent', 'helpful']),
    );
    expect(call.output.negativeWords).toEqual([]);
    const negative = expectNoErrors(
      await invoke(u.accessToken, 'sentiment', { text: 'This is terrible and I hate it.' }),
    ).invokeTool.output;
    expect(negative.label).toBe('negative');
    expect(negative.score).toBeLessThan(0);
    expect(negative.score).toBeGreaterThanOrEqual(-1);
  });

  it.each([
    ['text-stats', {}, ['input.text']],
    ['text-stats', { text: 42 }, ['input.text']],
    ['text-stats', { text: '' }, ['input.text']],
    ['text-stats', { text: 'ok', extra: true }, ['input.extra']],
    ['summarize', { text: 'One. Two.', maxSentences: 0 }, ['input.maxSentences']],
    ['summarize', { text: 'One. Two.', maxSentences: 'two' }, ['input.maxSentences']],
    ['text-stats', 'just a string', ['input']],
  ])(
    'refuses %s input %j with BAD_USER_INPUT on %j and writes nothing',
    async (slug, input, fields) => {
      // One user for every case: refusals write nothing, so the meter stays at zero throughout.
      refusedUser ??= await t.seed.user();
      const u = refusedUser;
      const err = expectErrorCode(await invoke(u.accessToken, slug, input), 'BAD_USER_INPUT');
      expect(err.extensions?.fields).toEqual(expect.arrayContaining(fields));
      expect(await meter(t, u.accessToken)).toEqual({
        tokensUsed: 0,
        records: 0,
        succeededTokens: 0,
      });
    },
  );

  it('answers NOT_FOUND for an unknown or malformed slug and writes nothing', async () => {
    const u = await t.seed.user();
    for (const slug of ['no-such-tool', 'Not A Slug', '']) {
      expectErrorCode(await invoke(u.accessToken, slug, { text: 'x' }), 'NOT_FOUND');
    }
    expect(await meter(t, u.accessToken)).toEqual({
      tokensUsed: 0,
      records: 0,
      succeededTokens: 0,
    });
  });

  it.each([
    ['a NUL character', { text: 'Hello\u0000there.' }, 'summarize', 'input.text'],
    ['an unpaired surrogate', { text: 'Hello \ud83d there.' }, 'summarize', 'input.text'],
    ['an unpaired surrogate in a key', { ['k\udc00']: 1, text: 'Hi.' }, 'text-stats', 'input'],
  ])(
    'refuses input with %s (PostgreSQL could not store the echo) with BAD_USER_INPUT, writing nothing',
    async (_what, input, slug, field) => {
      const u = await t.seed.user();
      const err = expectErrorCode(await invoke(u.accessToken, slug, input), 'BAD_USER_INPUT');
      expect(err.extensions?.fields).toContain(field);
      expect(await meter(t, u.accessToken)).toEqual({
        tokensUsed: 0,
        records: 0,
        succeededTokens: 0,
      });
    },
  );

  it('runs schema patterns in linear time: a catastrophic-backtracking pattern answers at once', async () => {
    const up = await startUpstream((_req, res) => sendJson(res, 200, { output: 'ok' }));
    upstreams.push(up);
    const tool = await createTool(t, admin.accessToken, {
      endpointUrl: up.url,
      inputSchema: {
        type: 'object',
        properties: { t: { type: 'string', pattern: '^(a+)+$' } },
        required: ['t'],
      },
    });
    const u = await t.seed.user();
    // With backtracking regular expressions this input takes longer than the universe has left.
    const err = expectErrorCode(
      await invoke(u.accessToken, tool.slug, { t: `${'a'.repeat(5_000)}!` }),
      'BAD_USER_INPUT',
    );
    expect(err.extensions?.fields).toContain('input.t');
    expect(up.requests).toHaveLength(0);
    expectNoErrors(await invoke(u.accessToken, tool.slug, { t: 'a'.repeat(5_000) }));
    expect(up.requests).toHaveLength(1);
  });

  it('a tool whose stored schema validates asynchronously is unavailable, and the server lives on', async () => {
    const up = await startUpstream((_req, res) => sendJson(res, 200, { output: 'never' }));
    upstreams.push(up);
    const tool = await createTool(t, admin.accessToken, { endpointUrl: up.url });
    // Such a schema is refused by createTool and updateTool; this one got into the database directly.
    await t.app.orm.em
      .fork()
      .getConnection()
      .execute(
        `update tools set input_schema = '{"$async": true, "type": "object"}', updated_at = now() where id = ?`,
        [tool.id],
      );
    const u = await t.seed.user();
    for (const input of [[1], { a: 1 }]) {
      expectErrorCode(await invoke(u.accessToken, tool.slug, input), 'UPSTREAM_ERROR');
    }
    expect(up.requests).toHaveLength(0);
    expect(await meter(t, u.accessToken)).toEqual({
      tokensUsed: 0,
      records: 0,
      succeededTokens: 0,
    });
    // Still serving.
    expectNoErrors(await invoke(u.accessToken, 'text-stats', { text: 'Alive.' }));
  });

  it('refuses an API key without TOOLS_INVOKE with FORBIDDEN and writes nothing', async () => {
    const u = await t.seed.user();
    const key = await t.seed.apiKey(u, ['USAGE_READ']);
    expectErrorCode(await invoke(key.secret, 'text-stats', { text: 'Hi.' }), 'FORBIDDEN');
    expect(await meter(t, u.accessToken)).toEqual({
      tokensUsed: 0,
      records: 0,
      succeededTokens: 0,
    });
    // With the scope, the call is made on the owner's behalf and records the key.
    const invoker = await t.seed.apiKey(u, ['TOOLS_INVOKE']);
    const data = expectNoErrors(
      await t.gql(
        `mutation { invokeTool(slug: "text-stats", input: { text: "Hi." }) { usage { apiKey { id } user { id } totalTokens } } }`,
        {},
        invoker.secret,
      ),
    );
    expect(data.invokeTool.usage.apiKey).toEqual({ id: invoker.id });
    expect(data.invokeTool.usage.user).toEqual({ id: u.id });
    expect((await meter(t, u.accessToken)).tokensUsed).toBe(data.invokeTool.usage.totalTokens);
  });
});

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

describe('idempotency keys', () => {
  it('replays the same output and usage without calling the tool or charging again; other input is a CONFLICT', async () => {
    let n = 0;
    const up = await startUpstream((req, res) => {
      n += 1;
      sendJson(res, 200, {
        output: { echo: req.body.input, call: n },
        usage: { inputTokens: 5, outputTokens: 7 },
      });
    });
    upstreams.push(up);
    const tool = await createTool(t, admin.accessToken, { endpointUrl: up.url });
    const u = await t.seed.user();
    const key = 'order-42';
    const first = expectNoErrors(
      await invoke(u.accessToken, tool.slug, { a: 1, b: [1, 2] }, key),
    ).invokeTool;
    expect(first.output).toEqual({ echo: { a: 1, b: [1, 2] }, call: 1 });
    expect(first.replayed).toBe(false);
    expect(first.usage.totalTokens).toBe(12);
    expect(up.requests).toHaveLength(1);

    // The same input, with its keys in another order, is the same request.
    for (const input of [
      { a: 1, b: [1, 2] },
      { b: [1, 2], a: 1 },
    ]) {
      const again = expectNoErrors(await invoke(u.accessToken, tool.slug, input, key)).invokeTool;
      expect(again.replayed).toBe(true);
      expect(again.output).toEqual(first.output);
      expect(again.usage.id).toBe(first.usage.id);
      expect(again.usage.totalTokens).toBe(12);
      expect(again.subscription.tokensUsed).toBe(12);
    }
    expect(up.requests).toHaveLength(1);

    const conflict = await invoke(u.accessToken, tool.slug, { a: 2, b: [1, 2] }, key);
    expectErrorCode(conflict, 'CONFLICT');
    // The same key on another tool is other input too.
    expectErrorCode(await invoke(u.accessToken, 'text-stats', { text: 'x' }, key), 'CONFLICT');
    expect(up.requests).toHaveLength(1);
    expect(await meter(t, u.accessToken)).toEqual({
      tokensUsed: 12,
      records: 1,
      succeededTokens: 12,
    });

    // A key belongs to its user: another user's same key is a new call.
    const other = await t.seed.user();
    const theirs = expectNoErrors(
      await invoke(other.accessToken, tool.slug, { a: 1, b: [1, 2] }, key),
    ).invokeTool;
    expect(theirs.replayed).toBe(false);
    expect(theirs.usage.id).not.toBe(first.usage.id);
    expect(up.requests).toHaveLength(2);

    // A malformed key is refused before anything runs.
    const bad = expectErrorCode(
      await invoke(u.accessToken, tool.slug, { a: 1 }, 'has space'),
      'BAD_USER_INPUT',
    );
    expect(bad.extensions?.fields).toContain('idempotencyKey');
    expect(up.requests).toHaveLength(2);
  });

  it('runs concurrent calls with one key once, and replays that call to the others', async () => {
    const up = await startUpstream(async (req, res) => {
      await new Promise((r) => setTimeout(r, 100));
      sendJson(res, 200, { output: { ok: true }, usage: { inputTokens: 3, outputTokens: 4 } });
    });
    upstreams.push(up);
    const tool = await createTool(t, admin.accessToken, { endpointUrl: up.url });
    const u = await t.seed.user();
    const results = await Promise.all(
      [1, 2, 3].map(() => invoke(u.accessToken, tool.slug, { q: 'same' }, 'dup-key')),
    );
    const calls = results.map((r) => expectNoErrors(r).invokeTool);
    // The duplicates wait for the first call: the tool runs once.
    expect(up.requests).toHaveLength(1);
    expect(new Set(calls.map((c) => c.usage.id)).size).toBe(1);
    expect(calls.map((c) => c.output)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(calls.filter((c) => !c.replayed)).toHaveLength(1);
    expect(await meter(t, u.accessToken)).toEqual({
      tokensUsed: 7,
      records: 1,
      succeededTokens: 7,
    });
  });
});

describe('rate limit', () => {
  it('refuses the 11th call within a minute on FREE with RATE_LIMITED and retryAfter, writing nothing', async () => {
    const u = await t.seed.user();
    for (let i = 0; i < 10; i += 1) {
      expectNoErrors(await invoke(u.accessToken, 'text-stats', { text: `Call ${i}.` }));
    }
    const before = await meter(t, u.accessToken);
    expect(before.records).toBe(10);
    const err = expectErrorCode(
      await invoke(u.accessToken, 'text-stats', { text: 'One more.' }),
      'RATE_LIMITED',
    );
    expect(Number.isInteger(err.extensions?.retryAfter)).toBe(true);
    expect(err.extensions?.retryAfter).toBeGreaterThanOrEqual(1);
    expect(err.extensions?.retryAfter).toBeLessThanOrEqual(60);
    expect(await meter(t, u.accessToken)).toEqual(before);
    // Another user is not affected.
    const other = await t.seed.user();
    expectNoErrors(await invoke(other.accessToken, 'text-stats', { text: 'Fine.' }));
  });

  const sharedLimit = async () => {
    const second = await startTestApp();
    try {
      const u = await t.seed.user();
      for (let i = 0; i < 10; i += 1) {
        const app = i % 2 === 0 ? t : second;
        expectNoErrors(
          await invoke(u.accessToken, 'text-stats', { text: `Call ${i}.` }, undefined, app),
        );
      }
      for (const app of [t, second]) {
        const err = expectErrorCode(
          await invoke(u.accessToken, 'text-stats', { text: 'More.' }, undefined, app),
          'RATE_LIMITED',
        );
        expect(err.extensions?.retryAfter).toBeGreaterThanOrEqual(1);
        expect(err.extensions?.retryAfter).toBeLessThanOrEqual(60);
      }
      return (await meter(t, u.accessToken)).records;
    } finally {
      await second.close();
    }
  };
  const itRedis = process.env.TEST_REDIS_URL ? it : it.skip; // skipped without TEST_REDIS_URL (CI sets it)
  itRedis('shares the limit between server instances through Redis', async () => {
    expect(await sharedLimit()).toBe(10);
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
