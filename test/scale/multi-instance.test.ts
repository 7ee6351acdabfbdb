import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, gql } from '../helpers/graphql';
import { pgbouncerAvailable, startPgBouncer, type PgBouncer } from '../helpers/pgbouncer';
import type { SeededUser } from '../helpers/seed';
import {
  createTool,
  INVOKE,
  meter,
  sendJson,
  startUpstream,
  type FakeUpstream,
} from '../tools/fake-upstream';

/**
 * Two instances on one database, as behind a load balancer: through a PgBouncer in transaction
 * mode when it is installed (CI), with direct connections otherwise.
 */
let bouncer: PgBouncer | null = null;
let a: TestApp;
let b: TestApp;
let admin: SeededUser;
const upstreams: FakeUpstream[] = [];
const via = pgbouncerAvailable ? 'through PgBouncer' : 'with direct connections';

beforeAll(async () => {
  if (pgbouncerAvailable) bouncer = await startPgBouncer();
  const via = bouncer ? { databaseUrl: bouncer.url(process.env.TEST_DATABASE_URL!) } : {};
  // A failing tool's breaker is each instance's own: when one instance takes the failing call of
  // three rounds in a row and the retries of two, 3 of its 5 calls failed and it opens, as it
  // should (test/tools has its tests). These suites are about what the instances share.
  const config = { ...via, toolBreakerFailures: 1_000 };
  [a, b] = await Promise.all([startTestApp(config), startTestApp(config)]);
  admin = await a.seed.admin();
});
afterAll(async () => {
  await Promise.all(upstreams.map((u) => u.close()));
  await Promise.all([a?.close(), b?.close()]);
  await bouncer?.stop();
});

const invoke = (app: TestApp, token: string, slug: string, input: unknown, key: string) =>
  app.gql<any>(INVOKE, { slug, input, key }, token);

describe(`idempotency keys under concurrency, two instances ${via}`, () => {
  it('gives every concurrent duplicate the winner’s result, round after round, with one call and one charge each', async () => {
    let calls = 0;
    const up = await startUpstream(async (req, res) => {
      calls += 1;
      // The winner finishes at a random moment while the duplicates are looking.
      await new Promise((r) => setTimeout(r, Math.random() * 30));
      sendJson(res, 200, {
        output: { n: req.body.input.n },
        usage: { inputTokens: 1, outputTokens: 1 },
      });
    });
    upstreams.push(up);
    const tool = await createTool(a, admin.accessToken, { endpointUrl: up.url });
    const user = await a.seed.user({ plan: 'ENTERPRISE' });
    const rounds = 40;
    for (let round = 0; round < rounds; round += 1) {
      const key = `round-${round}`;
      const before = calls;
      const answers = await Promise.all(
        [a, b, a, b].map(async (app, i) => {
          // Spread the duplicates over the winner's lifetime.
          await new Promise((r) => setTimeout(r, i * Math.random() * 10));
          return invoke(app, user.accessToken, tool.slug, { n: round }, key);
        }),
      );
      const wrong = answers.filter((r) => r.errors?.length);
      expect({ round, wrong: wrong.map((r) => r.errors) }).toEqual({ round, wrong: [] });
      const results = answers.map((r) => r.data!.invokeTool);
      expect(new Set(results.map((r) => r.usage.id)).size).toBe(1);
      expect(results.every((r) => r.output.n === round)).toBe(true);
      expect(calls - before).toBe(1);
    }
    expect(await meter(a, user.accessToken)).toEqual({
      tokensUsed: 2 * rounds,
      records: rounds,
      succeededTokens: 2 * rounds,
    });
  }, 120_000);

  it('answers every duplicate of a failed call with the winner’s code, never CONFLICT, and a retry runs again', async () => {
    let failing = true;
    const up = await startUpstream(async (_req, res) => {
      await new Promise((r) => setTimeout(r, Math.random() * 30));
      if (failing) sendJson(res, 500, { error: 'boom' });
      else sendJson(res, 200, { output: { ok: true } });
    });
    upstreams.push(up);
    const tool = await createTool(a, admin.accessToken, { endpointUrl: up.url });
    const user = await a.seed.user({ plan: 'ENTERPRISE' });
    for (let round = 0; round < 15; round += 1) {
      failing = true;
      const key = `failing-${round}`;
      const answers = await Promise.all(
        [a, b, a, b].map((app) => invoke(app, user.accessToken, tool.slug, { r: round }, key)),
      );
      const codes = answers.map((r) => r.errors?.[0]?.extensions?.code);
      expect({ round, codes }).toEqual({ round, codes: Array(4).fill('UPSTREAM_ERROR') });
      // The client may retry with the same key: the call runs again and can succeed.
      failing = false;
      const retried = expectNoErrors(
        await invoke(b, user.accessToken, tool.slug, { r: round }, key),
      );
      expect(retried.invokeTool.output).toEqual({ ok: true });
      expect(retried.invokeTool.replayed).toBe(false);
    }
  }, 120_000);
});

describe(`refresh tokens and quota across two instances ${via}`, () => {
  it('lets exactly one of concurrent refreshes of one token win, on either instance', async () => {
    const REFRESH = `mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }`;
    for (let round = 0; round < 5; round += 1) {
      const user = await a.seed.user();
      const answers = await Promise.all(
        [a, b, a, b].map((app) => gql(app.url, REFRESH, { t: user.refreshToken })),
      );
      expect(answers.filter((r) => !r.errors?.length)).toHaveLength(1);
      for (const r of answers.filter((x) => x.errors?.length)) {
        expectErrorCode(r, 'UNAUTHENTICATED');
      }
    }
  });

  it('never lets concurrent calls through both instances pass the FREE quota', async () => {
    const up = await startUpstream(async (_req, res) => {
      await new Promise((r) => setTimeout(r, 100));
      sendJson(res, 200, { output: { ok: 1 }, usage: { inputTokens: 20, outputTokens: 1_460 } });
    });
    upstreams.push(up);
    const tool = await createTool(a, admin.accessToken, {
      endpointUrl: up.url,
      maxOutputTokens: 1_480,
    });
    const user = await a.seed.user();
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 ? a : b).gql<any>(INVOKE, { slug: tool.slug, input: { n: 1 } }, user.accessToken),
      ),
    );
    const ok = answers.filter((r) => !r.errors?.length);
    for (const r of answers.filter((x) => x.errors?.length)) expectErrorCode(r, 'QUOTA_EXCEEDED');
    const used = await meter(a, user.accessToken);
    expect(used.tokensUsed).toBeLessThanOrEqual(10_000);
    expect(used.tokensUsed).toBe(ok.length * 1_480);
    expect(ok.length).toBe(6);
  });
});
