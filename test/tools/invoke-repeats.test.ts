// Repeated calls: idempotent replays, and the per-minute rate limit.
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors } from '../helpers/graphql';
import type { SeededUser } from '../helpers/seed';
import {
  createTool,
  type FakeUpstream,
  invokeSuite,
  meter,
  sendJson,
  startUpstream,
} from './fake-upstream';

let t: TestApp;
let admin: SeededUser;
const upstreams: FakeUpstream[] = [];

const invoke = invokeSuite((app, a) => ((t = app), (admin = a)), upstreams);

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
