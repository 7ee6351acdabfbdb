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

  it('refuses a mutation whole, before anything runs or is charged, when one of its root fields is not allowed', async () => {
    const u = await t.seed.user();
    const key = await t.seed.apiKey(u, ['TOOLS_INVOKE']);
    const both = `mutation {
      a: invokeTool(slug: "text-stats", input: { text: "Hi." }) { output }
      b: createTask(input: { title: "not in scope" }) { id }
    }`;
    const res = await t.gql(both, {}, key.secret);
    expectErrorCode(res, 'FORBIDDEN');
    expect(res.data ?? null).toBeNull();
    // invokeTool ran first and was charged before createTask was refused: no more.
    expect(await meter(t, u.accessToken)).toEqual({
      tokensUsed: 0,
      records: 0,
      succeededTokens: 0,
    });
    // The same through a fragment at the root.
    const spread = `mutation { ...M } fragment M on Mutation {
      a: invokeTool(slug: "text-stats", input: { text: "Hi." }) { output }
      changePlan(tier: PRO) { plan { tier } }
    }`;
    expectErrorCode(await t.gql(spread, {}, key.secret), 'FORBIDDEN');
    expect((await meter(t, u.accessToken)).records).toBe(0);
    // Two root fields the key may use both run.
    const two = `mutation {
      a: invokeTool(slug: "text-stats", input: { text: "Hi." }) { output }
      b: invokeTool(slug: "text-stats", input: { text: "Ho." }) { output }
    }`;
    expectNoErrors(await t.gql(two, {}, key.secret));
    expect((await meter(t, u.accessToken)).records).toBe(2);
  });
});
