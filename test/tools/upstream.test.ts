import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors } from '../helpers/graphql';
import type { SeededUser } from '../helpers/seed';
import {
  createTool,
  estimate,
  INVOKE,
  meter,
  sendJson,
  sleep,
  startUpstream,
  type FakeUpstream,
  type UpstreamHandler,
} from './fake-upstream';

const TIMEOUT_MS = 300;
const BREAKER_FAILURES = 3;
const BREAKER_RESET_MS = 500;

let t: TestApp;
let admin: SeededUser;
const upstreams: FakeUpstream[] = [];

beforeAll(async () => {
  t = await startTestApp({
    toolTimeoutMs: TIMEOUT_MS,
    toolRetryBaseMs: 10,
    toolBreakerFailures: BREAKER_FAILURES,
    toolBreakerResetMs: BREAKER_RESET_MS,
  });
  admin = await t.seed.admin();
});
afterAll(async () => {
  await Promise.all(upstreams.map((u) => u.close()));
  await t.close();
});

/** A fresh upstream tool behind `handler`, and a fresh FREE user to call it. */
async function setup(handler: UpstreamHandler, maxOutputTokens = 500) {
  const up = await startUpstream(handler);
  upstreams.push(up);
  const tool = await createTool(t, admin.accessToken, { endpointUrl: up.url, maxOutputTokens });
  const user = await t.seed.user();
  const invoke = (input: unknown = { q: 'hello' }) =>
    t.gql<any>(INVOKE, { slug: tool.slug, input }, user.accessToken);
  return { up, tool, user, invoke };
}

async function records(token: string) {
  return expectNoErrors(
    await t.gql(
      `{ usageRecords { totalCount nodes { status errorCode inputTokens outputTokens totalTokens latencyMs } } }`,
      {},
      token,
    ),
  ).usageRecords;
}

describe('calling an upstream tool', () => {
  it('POSTs {"input": ...} as JSON and charges the usage the tool reports', async () => {
    const { up, user, invoke } = await setup((req, res) =>
      sendJson(res, 200, {
        output: { answer: `you said ${req.body.input.q}` },
        usage: { inputTokens: 17, outputTokens: 230 },
      }),
    );
    const call = expectNoErrors(await invoke({ q: 'hello' })).invokeTool;
    expect(call.output).toEqual({ answer: 'you said hello' });
    expect(call.usage).toMatchObject({
      status: 'SUCCEEDED',
      inputTokens: 17,
      outputTokens: 230,
      totalTokens: 247,
    });
    expect(call.subscription.tokensUsed).toBe(247);
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]!.body).toEqual({ input: { q: 'hello' } });
    expect(up.requests[0]!.headers['content-type']).toMatch(/^application\/json/);
    expect(up.requests[0]!.headers['x-request-id']).toBeTruthy();
    expect(await meter(t, user.accessToken)).toEqual({
      tokensUsed: 247,
      records: 1,
      succeededTokens: 247,
    });
  });

  it('estimates ceil(JSON chars / 4) each way when the tool reports no usage', async () => {
    const output = { items: ['alpha', 'beta', 'gamma'], note: 'no usage reported here' };
    const { invoke } = await setup((_req, res) => sendJson(res, 200, { output }));
    const input = { question: 'What are the first three Greek letters?' };
    const call = expectNoErrors(await invoke(input)).invokeTool;
    expect(call.output).toEqual(output);
    expect(call.usage).toMatchObject({
      status: 'SUCCEEDED',
      inputTokens: estimate(input),
      outputTokens: estimate(output),
      totalTokens: estimate(input) + estimate(output),
    });
  });

  it('never charges more than the reservation (input estimate + maxOutputTokens)', async () => {
    const { invoke } = await setup(
      (_req, res) =>
        sendJson(res, 200, { output: 'x', usage: { inputTokens: 1, outputTokens: 999_999 } }),
      100,
    );
    const input = { q: 'hi' };
    const call = expectNoErrors(await invoke(input)).invokeTool;
    expect(call.usage.totalTokens).toBe(estimate(input) + 100);
    expect(call.subscription.tokensUsed).toBe(estimate(input) + 100);
  });

  it('bounds a slow tool in time: UPSTREAM_TIMEOUT, recorded FAILED with 0 tokens, nothing charged', async () => {
    const { up, user, invoke } = await setup(async (_req, res) => {
      await sleep(3_000);
      sendJson(res, 200, { output: 'too late', usage: { inputTokens: 5, outputTokens: 5 } });
    });
    const started = Date.now();
    expectErrorCode(await invoke(), 'UPSTREAM_TIMEOUT');
    // Given up long before the tool would have answered.
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(up.requests).toHaveLength(1);
    const r = await records(user.accessToken);
    expect(r.totalCount).toBe(1);
    expect(r.nodes[0]).toMatchObject({
      status: 'FAILED',
      errorCode: 'UPSTREAM_TIMEOUT',
      inputTokens: 0,
      outputTokens: 0,
      totalTokens: 0,
    });
    expect(r.nodes[0].latencyMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    const m = await meter(t, user.accessToken);
    expect(m.tokensUsed).toBe(0);
    // The reservation was released: the whole quota is still there.
    const sub = expectNoErrors(
      await t.gql(`{ mySubscription { tokensRemaining } }`, {}, user.accessToken),
    );
    expect(sub.mySubscription.tokensRemaining).toBe(10_000);
  });

  it('retries a 503 and succeeds on the second attempt (the tool saw 2 requests, one charge)', async () => {
    const { up, user, invoke } = await setup((_req, res, index) => {
      if (index === 0) sendJson(res, 503, { error: 'busy' });
      else sendJson(res, 200, { output: { ok: true }, usage: { inputTokens: 2, outputTokens: 3 } });
    });
    const call = expectNoErrors(await invoke()).invokeTool;
    expect(call.output).toEqual({ ok: true });
    expect(call.usage).toMatchObject({ status: 'SUCCEEDED', totalTokens: 5 });
    expect(up.requests).toHaveLength(2);
    expect(up.requests[1]!.body).toEqual(up.requests[0]!.body);
    expect(await meter(t, user.accessToken)).toEqual({
      tokensUsed: 5,
      records: 1,
      succeededTokens: 5,
    });
  });

  it('does not retry a 500: UPSTREAM_ERROR, recorded FAILED, nothing charged', async () => {
    const { up, user, invoke } = await setup((_req, res) =>
      sendJson(res, 500, { error: 'internal details that must not leak' }),
    );
    const err = expectErrorCode(await invoke(), 'UPSTREAM_ERROR');
    expect(err.message).not.toContain('internal details');
    expect(err.message).not.toContain('127.0.0.1');
    expect(up.requests).toHaveLength(1);
    const r = await records(user.accessToken);
    expect(r.totalCount).toBe(1);
    expect(r.nodes[0]).toMatchObject({
      status: 'FAILED',
      errorCode: 'UPSTREAM_ERROR',
      totalTokens: 0,
    });
    expect((await meter(t, user.accessToken)).tokensUsed).toBe(0);
  });

  it('does not spend an idempotency key on a failed call: the retry runs and is charged once', async () => {
    const { up, user, tool } = await setup((_req, res, index) => {
      if (index === 0) sendJson(res, 500, {});
      else
        sendJson(res, 200, { output: 'second time', usage: { inputTokens: 1, outputTokens: 1 } });
    });
    const call = () =>
      t.gql<any>(INVOKE, { slug: tool.slug, input: { q: 1 }, key: 'retry-me' }, user.accessToken);
    expectErrorCode(await call(), 'UPSTREAM_ERROR');
    const ok = expectNoErrors(await call()).invokeTool;
    expect(ok).toMatchObject({ output: 'second time', replayed: false });
    const again = expectNoErrors(await call()).invokeTool;
    expect(again).toMatchObject({ output: 'second time', replayed: true });
    expect(again.usage.id).toBe(ok.usage.id);
    expect(up.requests).toHaveLength(2);
    expect(await meter(t, user.accessToken)).toEqual({
      tokensUsed: 2,
      records: 2,
      succeededTokens: 2,
    });
  });

  it.each([
    ['a body that is not JSON', 'this is not json', 200],
    ['an answer without output', { result: 'where is output?' }, 200],
    ['negative token counts', { output: 'x', usage: { inputTokens: -5, outputTokens: 10 } }, 200],
    [
      'fractional token counts',
      { output: 'x', usage: { inputTokens: 1.5, outputTokens: 10 } },
      200,
    ],
    ['a JSON array', [1, 2, 3], 200],
    ['output with a NUL character (PostgreSQL cannot store it)', { output: 'a\u0000b' }, 200],
    ['output with an unpaired surrogate', { output: { ['k\ud800']: 'v' } }, 200],
    // Raw text: JSON.stringify could not write it (it overflowed the stack counting its tokens).
    [
      'output nested 100,000 levels',
      `{"output":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
      200,
    ],
    ['output nested 70 levels', `{"output":${'['.repeat(70)}${']'.repeat(70)}}`, 200],
  ])('refuses %s with UPSTREAM_ERROR and charges nothing', async (_what, body, status) => {
    const { up, user, invoke } = await setup((_req, res) => {
      if (typeof body === 'string') {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(body);
      } else sendJson(res, status, body);
    });
    expectErrorCode(await invoke(), 'UPSTREAM_ERROR');
    expect(up.requests).toHaveLength(1);
    const r = await records(user.accessToken);
    expect(r.totalCount).toBe(1);
    expect(r.nodes[0]).toMatchObject({
      status: 'FAILED',
      errorCode: 'UPSTREAM_ERROR',
      totalTokens: 0,
    });
    const sub = expectNoErrors(
      await t.gql(`{ mySubscription { tokensUsed tokensRemaining } }`, {}, user.accessToken),
    ).mySubscription;
    expect(sub).toEqual({ tokensUsed: 0, tokensRemaining: 10_000 });
  });

  it('releases the whole reservation of a failed call: a call reserving almost all the quota still fits after it', async () => {
    // FREE has 10,000 tokens; each call reserves its input estimate + 9,900.
    const { up, user, invoke } = await setup((_req, res, index) => {
      if (index === 0) sendJson(res, 200, { output: 'bad\u0000output' });
      else sendJson(res, 200, { output: 'ok', usage: { inputTokens: 3, outputTokens: 4 } });
    }, 9_900);
    expectErrorCode(await invoke(), 'UPSTREAM_ERROR');
    expect(expectNoErrors(await invoke()).invokeTool.output).toBe('ok');
    expect(up.requests).toHaveLength(2);
    expect(await meter(t, user.accessToken)).toEqual({
      tokensUsed: 7,
      records: 2,
      succeededTokens: 7,
    });
    // The successful call settled to its real 7 tokens and released the rest: a third fits.
    expect(expectNoErrors(await invoke()).invokeTool.subscription.tokensUsed).toBe(14);
  });

  it('refuses input nested deeper than 64 levels with BAD_USER_INPUT before calling or writing', async () => {
    const { up, user, invoke } = await setup((_req, res) => sendJson(res, 200, { output: 1 }));
    let deep: unknown = 'bottom';
    // 80 levels: within what a body may hold (100), past what the JSON scalar takes (64).
    for (let i = 0; i < 80; i++) deep = { d: deep };
    const err = expectErrorCode(await invoke(deep), 'BAD_USER_INPUT');
    expect(err.extensions?.fields).toContain('input');
    // 200: refused with the body, before it is parsed (src/http/json-body.ts).
    let deepArray: unknown = [];
    for (let i = 0; i < 200; i++) deepArray = [deepArray];
    expectErrorCode(await invoke({ a: deepArray }), 'BAD_USER_INPUT');
    expect(up.requests).toHaveLength(0);
    expect(await meter(t, user.accessToken)).toEqual({
      tokensUsed: 0,
      records: 0,
      succeededTokens: 0,
    });
    // Nesting within the limit is fine.
    let fine: unknown = 'bottom';
    for (let i = 0; i < 30; i++) fine = { d: fine };
    expectNoErrors(await invoke(fine));
  });

  it('answers UPSTREAM_ERROR for a tool that cannot be reached, charging nothing', async () => {
    const up = await startUpstream((_req, res) => sendJson(res, 200, { output: 1 }));
    const url = up.url;
    await up.close(); // nothing listens on that port any more
    const tool = await createTool(t, admin.accessToken, { endpointUrl: url });
    const user = await t.seed.user();
    const res = await t.gql<any>(INVOKE, { slug: tool.slug, input: {} }, user.accessToken);
    expect(['UPSTREAM_ERROR', 'UPSTREAM_TIMEOUT']).toContain(res.errors?.[0]?.extensions?.code);
    expect((await meter(t, user.accessToken)).tokensUsed).toBe(0);
  });
});

describe('circuit breaker', () => {
  it('opens after repeated failures (fast refusal, no request, nothing recorded) and recovers after the reset', async () => {
    let healthy = false;
    const { up, user, invoke } = await setup((_req, res) => {
      if (healthy)
        sendJson(res, 200, { output: 'back', usage: { inputTokens: 1, outputTokens: 2 } });
      else sendJson(res, 500, { error: 'down' });
    });
    for (let i = 0; i < BREAKER_FAILURES; i += 1) {
      expectErrorCode(await invoke(), 'UPSTREAM_ERROR');
    }
    expect(up.requests).toHaveLength(BREAKER_FAILURES);

    // Open: refused at once although the tool is healthy again; it sees nothing, nothing is
    // recorded or charged.
    healthy = true;
    const refused = expectErrorCode(await invoke(), 'UPSTREAM_ERROR');
    expect(refused.message).toMatch(/unavailable/i);
    expect(up.requests).toHaveLength(BREAKER_FAILURES);
    expect((await records(user.accessToken)).totalCount).toBe(BREAKER_FAILURES);
    expect((await meter(t, user.accessToken)).tokensUsed).toBe(0);

    // After the reset the breaker lets one probe through; it succeeds and the breaker closes.
    await sleep(BREAKER_RESET_MS + 150);
    const probe = expectNoErrors(await invoke()).invokeTool;
    expect(probe.output).toBe('back');
    expect(up.requests).toHaveLength(BREAKER_FAILURES + 1);
    const next = expectNoErrors(await invoke()).invokeTool;
    expect(next.output).toBe('back');
    expect(up.requests).toHaveLength(BREAKER_FAILURES + 2);
    expect(await meter(t, user.accessToken)).toEqual({
      tokensUsed: 6,
      records: BREAKER_FAILURES + 2,
      succeededTokens: 6,
    });
  });

  it('keeps one breaker per tool: a failing tool does not block another', async () => {
    const bad = await setup((_req, res) => sendJson(res, 500, {}));
    const good = await setup((_req, res) => sendJson(res, 200, { output: 'fine' }));
    for (let i = 0; i < BREAKER_FAILURES + 1; i += 1) {
      expectErrorCode(await bad.invoke(), 'UPSTREAM_ERROR');
    }
    expect(bad.up.requests).toHaveLength(BREAKER_FAILURES);
    expect(expectNoErrors(await good.invoke()).invokeTool.output).toBe('fine');
  });
});

describe('private networks denied (the production default)', () => {
  let guarded: TestApp;
  beforeAll(async () => {
    guarded = await startTestApp({ toolAllowPrivateNetworks: false });
  });
  afterAll(async () => {
    await guarded.close();
  });

  it.each([
    'http://127.0.0.1:8080/run',
    'http://localhost:8080/run',
    'http://LOCALHOST./run',
    'http://api.localhost/run',
    'http://[::1]/run',
    'http://[::ffff:127.0.0.1]/run',
    'http://169.254.169.254/latest/meta-data/',
    'http://10.1.2.3/run',
    'http://172.16.0.1/run',
    'http://192.168.1.10/run',
    'http://100.64.0.1/run',
    'http://0.0.0.0/run',
    'http://2130706433/run',
    'http://0x7f.1/run',
    'http://[fd00::1]/run',
    'http://[fe80::1]/run',
  ])('refuses a tool endpoint at %s with BAD_USER_INPUT, creating nothing', async (endpointUrl) => {
    const slug = `private-${Math.random().toString(36).slice(2, 10)}`;
    const res = await guarded.gql(
      `mutation($input: CreateToolInput!) { createTool(input: $input) { id } }`,
      {
        input: {
          slug,
          name: 'Inside',
          description: 'Points inside the network',
          category: 'test',
          requiredTier: 'FREE',
          inputSchema: { type: 'object' },
          maxOutputTokens: 100,
          endpointUrl,
        },
      },
      admin.accessToken,
    );
    const err = expectErrorCode(res, 'BAD_USER_INPUT');
    expect(err.extensions?.fields).toContain('endpointUrl');
    const found = await guarded.gql(
      `query($s: String!) { tool(slug: $s) { id } }`,
      { s: slug },
      admin.accessToken,
    );
    expect(found.data?.tool ?? null).toBeNull();
  });

  it('accepts a public host name (resolved only when called)', async () => {
    const tool = await createTool(guarded, admin.accessToken, {
      endpointUrl: 'https://tools.example.com/run',
    });
    expect(tool.id).toBeTruthy();
  });

  it('never connects to a tool saved while private networks were allowed: an IP literal, or a name resolving to loopback', async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const up = await startUpstream((_req, res) => sendJson(res, 200, { output: 'inside' }));
      upstreams.push(up);
      const endpointUrl = up.url.replace('127.0.0.1', host);
      // Saved through the app that allows private networks (development), called through one that does not.
      const tool = await createTool(t, admin.accessToken, { endpointUrl });
      const user = await t.seed.user();
      const res = await guarded.gql<any>(INVOKE, { slug: tool.slug, input: {} }, user.accessToken);
      expectErrorCode(res, 'UPSTREAM_ERROR');
      expect(up.requests).toHaveLength(0);
      // Refused before reaching the tool: nothing recorded, nothing charged or left reserved.
      expect(await meter(guarded, user.accessToken)).toEqual({
        tokensUsed: 0,
        records: 0,
        succeededTokens: 0,
      });
      // The same tool through the allowing app works: the refusal was the policy, not the tool.
      expect(
        expectNoErrors(await t.gql<any>(INVOKE, { slug: tool.slug, input: {} }, user.accessToken))
          .invokeTool.output,
      ).toBe('inside');
    }
  });
});
