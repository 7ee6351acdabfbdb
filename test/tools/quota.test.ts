import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, type GraphQLResponse } from '../helpers/graphql';
import type { SeededUser } from '../helpers/seed';
import {
  createTool,
  estimate,
  INVOKE,
  meter,
  sendJson,
  sleep,
  startUpstream,
  SUBSCRIPTION,
  type FakeUpstream,
} from './fake-upstream';

const FREE_QUOTA = 10_000;

let a: TestApp;
let b: TestApp;
let admin: SeededUser;
const upstreams: FakeUpstream[] = [];

/** The time of `c`, a third instance whose clock the billing-period tests move. */
let fakeNow = new Date('2030-10-15T12:00:00.000Z');
let c: TestApp;

beforeAll(async () => {
  // Two server instances on the same database, as behind a load balancer.
  [a, b, c] = await Promise.all([
    startTestApp(),
    startTestApp(),
    startTestApp({}, { clock: { now: () => fakeNow } }),
  ]);
  admin = await a.seed.admin();
});
afterAll(async () => {
  await Promise.all(upstreams.map((u) => u.close()));
  await Promise.all([a.close(), b.close(), c.close()]);
});

describe('monthly token quota', () => {
  it('never lets concurrent calls through two instances pass the quota, and charges only what fits', async () => {
    // Each call reserves its input estimate + maxOutputTokens = 2 + 1,480 = 1,482 tokens and
    // is charged exactly what the tool reports, 1,480. 8 calls would need 11,840 > 10,000.
    const input = { n: 1 };
    const maxOutputTokens = 1_480;
    const reservation = estimate(input) + maxOutputTokens;
    const charge = { inputTokens: 20, outputTokens: 1_460 };
    const perCall = charge.inputTokens + charge.outputTokens;
    let inFlight = 0;
    let maxInFlight = 0;
    const up = await startUpstream(async (req, res) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(300); // keep the calls overlapping
      inFlight -= 1;
      sendJson(res, 200, { output: { n: req.body.input.n }, usage: charge });
    });
    upstreams.push(up);
    const tool = await createTool(a, admin.accessToken, { endpointUrl: up.url, maxOutputTokens });
    const u = await a.seed.user();

    const calls = 8; // within FREE's 10 requests a minute
    const results: GraphQLResponse<any>[] = await Promise.all(
      Array.from({ length: calls }, (_, i) =>
        (i % 2 === 0 ? a : b).gql(INVOKE, { slug: tool.slug, input }, u.accessToken),
      ),
    );
    const ok = results.filter((r) => !r.errors?.length);
    const refused = results.filter((r) => r.errors?.length);
    // The most that fit: each success leaves at most quota - n * 1,480 for the next reservation.
    let fit = 0;
    while ((fit + 1) * perCall + (reservation - perCall) <= FREE_QUOTA) fit += 1;
    expect(fit).toBe(6);
    expect(ok).toHaveLength(fit);
    expect(refused).toHaveLength(calls - fit);
    for (const r of refused) {
      const err = expectErrorCode(r, 'QUOTA_EXCEEDED');
      const remaining = err.extensions?.tokensRemaining;
      expect(Number.isInteger(remaining)).toBe(true);
      expect(remaining).toBeGreaterThanOrEqual(0);
      expect(remaining).toBeLessThan(reservation);
      expect(err.extensions?.tokensNeeded).toBe(reservation);
    }
    for (const r of ok) expect(r.data.invokeTool.usage.totalTokens).toBe(perCall);
    // A refused call never reached the tool, nor was it recorded or charged.
    expect(up.requests).toHaveLength(fit);
    expect(maxInFlight).toBeGreaterThan(1);

    for (const app of [a, b]) {
      const m = await meter(app, u.accessToken);
      expect(m.tokensUsed).toBe(fit * perCall);
      expect(m.tokensUsed).toBeLessThanOrEqual(FREE_QUOTA);
      expect(m.records).toBe(fit);
      expect(m.succeededTokens).toBe(m.tokensUsed);
      const sub = expectNoErrors(await app.gql(SUBSCRIPTION, {}, u.accessToken)).mySubscription;
      expect(sub.tokensRemaining).toBe(FREE_QUOTA - fit * perCall);
    }
    // Nothing is left reserved: the remaining 1,120 tokens can still be spent by a smaller call.
    const small = expectNoErrors(
      await b.gql(INVOKE, { slug: 'text-stats', input: { text: 'Still room.' } }, u.accessToken),
    ).invokeTool;
    expect(small.subscription.tokensUsed).toBe(fit * perCall + small.usage.totalTokens);
  });

  it('refuses a call whose reservation does not fit with QUOTA_EXCEEDED and tokensRemaining, charging nothing', async () => {
    const up = await startUpstream((_req, res) =>
      sendJson(res, 200, { output: 'ok', usage: { inputTokens: 1_000, outputTokens: 7_000 } }),
    );
    upstreams.push(up);
    const tool = await createTool(a, admin.accessToken, {
      endpointUrl: up.url,
      maxOutputTokens: 9_000,
    });
    const u = await a.seed.user();
    const first = expectNoErrors(
      await a.gql(INVOKE, { slug: tool.slug, input: {} }, u.accessToken),
    ).invokeTool;
    expect(first.subscription).toMatchObject({ tokensUsed: 8_000, tokensRemaining: 2_000 });

    const err = expectErrorCode(
      await b.gql(INVOKE, { slug: tool.slug, input: {} }, u.accessToken),
      'QUOTA_EXCEEDED',
    );
    expect(err.extensions?.tokensRemaining).toBe(2_000);
    expect(err.extensions?.tokensNeeded).toBe(estimate({}) + 9_000);
    expect(up.requests).toHaveLength(1);
    expect(await meter(a, u.accessToken)).toEqual({
      tokensUsed: 8_000,
      records: 1,
      succeededTokens: 8_000,
    });
    // A tool whose reservation alone is over the quota is refused from the start.
    const huge = await createTool(a, admin.accessToken, {
      endpointUrl: up.url,
      maxOutputTokens: 20_000,
    });
    const fresh = await a.seed.user();
    const none = expectErrorCode(
      await a.gql(INVOKE, { slug: huge.slug, input: {} }, fresh.accessToken),
      'QUOTA_EXCEEDED',
    );
    expect(none.extensions?.tokensRemaining).toBe(FREE_QUOTA);
    expect(up.requests).toHaveLength(1);
  });
});

describe('billing periods', () => {
  it('rolls over to a new calendar month (UTC): tokensUsed starts at 0 and new calls are charged there', async () => {
    fakeNow = new Date('2030-10-15T12:00:00.000Z');
    const u = await c.seed.user();
    const october = expectNoErrors(
      await c.gql(
        INVOKE,
        { slug: 'text-stats', input: { text: 'Spent in October.' } },
        u.accessToken,
      ),
    ).invokeTool;
    const spent = october.usage.totalTokens;
    expect(spent).toBeGreaterThan(0);
    expect(new Date(october.usage.createdAt).toISOString()).toBe('2030-10-15T12:00:00.000Z');
    expect(expectNoErrors(await c.gql(SUBSCRIPTION, {}, u.accessToken)).mySubscription).toEqual({
      tokensUsed: spent,
      tokensRemaining: FREE_QUOTA - spent,
      currentPeriodStart: '2030-10-01T00:00:00.000Z',
      currentPeriodEnd: '2030-11-01T00:00:00.000Z',
      plan: { tier: 'FREE' },
    });

    // The last millisecond of October is still October.
    fakeNow = new Date('2030-10-31T23:59:59.999Z');
    expect(
      expectNoErrors(await c.gql(SUBSCRIPTION, {}, u.accessToken)).mySubscription.tokensUsed,
    ).toBe(spent);

    fakeNow = new Date('2030-11-01T00:00:00.000Z');
    expect(expectNoErrors(await c.gql(SUBSCRIPTION, {}, u.accessToken)).mySubscription).toEqual({
      tokensUsed: 0,
      tokensRemaining: FREE_QUOTA,
      currentPeriodStart: '2030-11-01T00:00:00.000Z',
      currentPeriodEnd: '2030-12-01T00:00:00.000Z',
      plan: { tier: 'FREE' },
    });

    fakeNow = new Date('2030-11-02T08:30:00.000Z');
    const november = expectNoErrors(
      await c.gql(INVOKE, { slug: 'text-stats', input: { text: 'November.' } }, u.accessToken),
    ).invokeTool;
    const novemberTokens = november.usage.totalTokens;
    expect(november.subscription.tokensUsed).toBe(novemberTokens);
    expect(november.subscription.tokensRemaining).toBe(FREE_QUOTA - novemberTokens);

    // Queries come a little after the call (myUsage's default range ends at now, exclusive).
    fakeNow = new Date('2030-11-02T08:31:00.000Z');
    const usage = expectNoErrors(
      await c.gql(
        `{ mySubscription { tokensUsed }
           myUsage { calls totalTokens byDay { day calls totalTokens } }
           all: myUsage(from: "2030-10-01T00:00:00.000Z", to: "2030-12-01T00:00:00.000Z") {
             calls totalTokens byDay { day calls totalTokens } }
           october: usageRecords(filter: { to: "2030-11-01T00:00:00.000Z" }) { totalCount } }`,
        {},
        u.accessToken,
      ),
    );
    expect(usage.mySubscription.tokensUsed).toBe(novemberTokens);
    expect(usage.myUsage).toEqual({
      calls: 1,
      totalTokens: novemberTokens,
      byDay: [{ day: '2030-11-02', calls: 1, totalTokens: novemberTokens }],
    });
    expect(usage.all).toEqual({
      calls: 2,
      totalTokens: spent + novemberTokens,
      byDay: [
        { day: '2030-10-15', calls: 1, totalTokens: spent },
        { day: '2030-11-02', calls: 1, totalTokens: novemberTokens },
      ],
    });
    expect(usage.october.totalCount).toBe(1);
  });

  it('gives the new month the whole quota again', async () => {
    const up = await startUpstream((_req, res) =>
      sendJson(res, 200, { output: 'big', usage: { inputTokens: 0, outputTokens: 9_000 } }),
    );
    upstreams.push(up);
    const cAdmin = await c.seed.admin();
    const tool = await createTool(c, cAdmin.accessToken, {
      endpointUrl: up.url,
      maxOutputTokens: 9_000,
    });
    fakeNow = new Date('2030-12-20T10:00:00.000Z');
    const u = await c.seed.user();
    expectNoErrors(await c.gql(INVOKE, { slug: tool.slug, input: {} }, u.accessToken));
    expectErrorCode(
      await c.gql(INVOKE, { slug: tool.slug, input: {} }, u.accessToken),
      'QUOTA_EXCEEDED',
    );
    // New year, new month.
    fakeNow = new Date('2031-01-01T00:00:01.000Z');
    const next = expectNoErrors(
      await c.gql(INVOKE, { slug: tool.slug, input: {} }, u.accessToken),
    ).invokeTool;
    expect(next.subscription).toMatchObject({ tokensUsed: 9_000, tokensRemaining: 1_000 });
    expect(up.requests).toHaveLength(2);
  });

  it('charges a call that spans the month boundary to the month it was reserved in, never past the new month’s quota', async () => {
    const cAdmin = await c.seed.admin();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const answer = { inputTokens: 0, outputTokens: 9_000 };
    const slow = await startUpstream(async (_req, res) => {
      await gate;
      sendJson(res, 200, { output: 'slow', usage: answer });
    });
    const fast = await startUpstream((_req, res) =>
      sendJson(res, 200, { output: 'fast', usage: answer }),
    );
    upstreams.push(slow, fast);
    const [slowTool, fastTool] = await Promise.all(
      [slow, fast].map((up) =>
        createTool(c, cAdmin.accessToken, { endpointUrl: up.url, maxOutputTokens: 9_000 }),
      ),
    );

    fakeNow = new Date('2031-03-31T23:59:59.000Z');
    const u = await c.seed.user();
    // Starts in March and is still running when April begins.
    const pending = c.gql<any>(INVOKE, { slug: slowTool!.slug, input: {} }, u.accessToken);
    while (slow.requests.length === 0) await sleep(10);
    fakeNow = new Date('2031-04-01T00:00:00.500Z');
    // April's quota is whole: a big April call fits.
    const april = expectNoErrors(
      await c.gql(INVOKE, { slug: fastTool!.slug, input: {} }, u.accessToken),
    ).invokeTool;
    expect(april.subscription.tokensUsed).toBe(9_000);
    release();
    const march = expectNoErrors(await pending).invokeTool;
    expect(march.output).toBe('slow');
    expect(march.usage.totalTokens).toBe(9_000);

    fakeNow = new Date('2031-04-01T00:05:00.000Z');
    const after = expectNoErrors(
      await c.gql(
        `{ mySubscription { tokensUsed tokensRemaining } myUsage { calls totalTokens } }`,
        {},
        u.accessToken,
      ),
    );
    expect(after.mySubscription.tokensUsed).toBeLessThanOrEqual(FREE_QUOTA);
    expect(after.mySubscription).toEqual({ tokensUsed: 9_000, tokensRemaining: 1_000 });
    expect(after.myUsage).toEqual({ calls: 1, totalTokens: 9_000 });
    // The March call is dated in March, when it was reserved, and charged there, not to April.
    expect(new Date(march.usage.createdAt).getTime()).toBeLessThan(
      Date.parse('2031-04-01T00:00:00.000Z'),
    );
  });

  it('keeps tokensUsed equal to the period’s records when a call ends after the month turned', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = await startUpstream(async (_req, res) => {
      await gate;
      sendJson(res, 200, { output: 'late', usage: { inputTokens: 10, outputTokens: 90 } });
    });
    upstreams.push(slow);
    const cAdmin = await c.seed.admin();
    const tool = await createTool(c, cAdmin.accessToken, { endpointUrl: slow.url });
    fakeNow = new Date('2031-05-31T23:59:59.900Z');
    const u = await c.seed.user();
    const pending = c.gql<any>(INVOKE, { slug: tool.slug, input: {} }, u.accessToken);
    while (slow.requests.length === 0) await sleep(10);
    fakeNow = new Date('2031-06-01T00:00:01.000Z');
    release();
    const call = expectNoErrors(await pending).invokeTool;
    expect(call.usage.totalTokens).toBe(100);
    fakeNow = new Date('2031-06-01T00:01:00.000Z');
    const june = expectNoErrors(
      await c.gql(`{ mySubscription { tokensUsed } myUsage { totalTokens } }`, {}, u.accessToken),
    );
    expect(june.mySubscription.tokensUsed).toBe(june.myUsage.totalTokens);
    const may = expectNoErrors(
      await c.gql(
        `{ myUsage(from: "2031-05-01T00:00:00.000Z", to: "2031-06-01T00:00:00.000Z") { totalTokens } }`,
        {},
        u.accessToken,
      ),
    );
    expect(may.myUsage.totalTokens + june.myUsage.totalTokens).toBe(100);
  });
});
