import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, gql } from '../helpers/graphql';
import { unique } from '../helpers/seed';
import { startTcpProxy } from '../helpers/tcp-proxy';

const redisUrl = process.env.TEST_REDIS_URL;
const describeRedis = redisUrl ? describe : describe.skip; // skipped without TEST_REDIS_URL (CI sets it)

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const TASKS = `{ tasks(first: 50) { nodes { id title } } }`;
// 1 (tasks) + 50 x (nodes 1 + id 1 + title 1)
const TASKS_REQUESTED = 1 + 50 * 3;

describe('query cost is reported', () => {
  it('on every executed response: requested, actual and the throttle status', async () => {
    const res = await t.gql(`{ plans { tier name } }`);
    expectNoErrors(res);
    expect(res.extensions?.cost).toEqual({
      requestedQueryCost: 3,
      actualQueryCost: 3,
      throttleStatus: {
        maximumAvailable: 40_000,
        currentlyAvailable: expect.any(Number),
        restoreRate: 2_000,
      },
    });
  });

  it('charges what came back, not what could have: two rows of a page of 50', async () => {
    const user = await t.seed.user();
    await t.seed.task(user);
    await t.seed.task(user);
    const res = await t.gql(TASKS, {}, user.accessToken);
    expect(expectNoErrors(res).tasks.nodes).toHaveLength(2);
    expect(res.extensions?.cost.requestedQueryCost).toBe(TASKS_REQUESTED);
    expect(res.extensions?.cost.actualQueryCost).toBe(1 + 2 * 3);
    // The difference was given back: the bucket lost only the actual cost (and refills anyway).
    expect(res.extensions?.cost.throttleStatus.currentlyAvailable).toBeGreaterThanOrEqual(
      40_000 - 7,
    );
  });

  it('weighs a task description by what it may hold: 50 points, so pages of long text stay bounded', async () => {
    const user = await t.seed.user();
    await t.seed.task(user, { description: 'x'.repeat(10_000) });
    const page = await t.gql(
      `{ tasks(first: 100) { nodes { id description } } }`,
      {},
      user.accessToken,
    );
    expectNoErrors(page);
    // tasks 1 + 100 rows x (nodes 1 + id 1 + description 50); one row came back.
    expect(page.extensions?.cost.requestedQueryCost).toBe(1 + 100 * 52);
    expect(page.extensions?.cost.actualQueryCost).toBe(1 + 52);
    // 30 such pages in one document (30 MB of answer at 10,000 characters each) are over the
    // per-document limit; at 1 point a description they cost 6,030 and ran.
    const flood = `{ ${Array.from({ length: 30 }, (_, i) => `a${i}: tasks(first: 100) { nodes { description } }`).join(' ')} }`;
    const refused = await t.gql(flood, {}, user.accessToken);
    expectErrorCode(refused, 'QUERY_TOO_COMPLEX');
    // A title costs 1 as before.
    const titles = await t.gql(`{ tasks(first: 10) { nodes { title } } }`, {}, user.accessToken);
    expect(titles.extensions?.cost.requestedQueryCost).toBe(1 + 10 * 2);
  });

  it('counts a mutation like a query, and reports it', async () => {
    const user = await t.seed.user();
    const res = await t.gql(
      `mutation { createTask(input: {title: "costed"}) { id title } }`,
      {},
      user.accessToken,
    );
    expectNoErrors(res);
    expect(res.extensions?.cost).toMatchObject({ requestedQueryCost: 3, actualQueryCost: 3 });
  });
});

describe('query cost of a bad `first`', () => {
  it("is the page field's BAD_USER_INPUT, not QUERY_TOO_COMPLEX: out of range, not an Int, huge", async () => {
    const user = await t.seed.user();
    const PAGE = `query($f: Int) { tasks(first: $f) { nodes { id } } }`;
    for (const f of [2147483647, 1000, 0, -5]) {
      const res = await t.gql(PAGE, { f }, user.accessToken);
      const err = expectErrorCode(res, 'BAD_USER_INPUT');
      expect({ f, fields: err.extensions?.fields }).toEqual({ f, fields: ['first'] });
      // Costed as the largest page there is, at most: 1 + 100 x 2.
      expect(res.extensions?.cost?.requestedQueryCost ?? 0).toBeLessThanOrEqual(201);
    }
    for (const f of [1e30, 1.5, '10']) {
      const res = await t.gql(PAGE, { f }, user.accessToken);
      expectErrorCode(res, 'BAD_USER_INPUT');
      expect(res.data ?? null).toBeNull();
    }
    const literal = await t.gql(`{ tasks(first: 100000) { nodes { id } } }`, {}, user.accessToken);
    expectErrorCode(literal, 'BAD_USER_INPUT');
  });
});

describe('query cost is budgeted per caller', () => {
  let small: TestApp;
  afterEach(() => small?.close());

  // A bucket of 400 points refilling 100 a second.
  const budget = { queryMaxCost: 400, costBucketSize: 400, costRestoreRate: 100 };
  // The same bucket, refilling only 5 points a second: drained in a few requests.
  const slow = { ...budget, costRestoreRate: 5 };

  it('refuses a document the bucket cannot pay for with RATE_LIMITED, 429 and a true retryAfter, before it runs', async () => {
    small = await startTestApp({ ...slow, redisUrl: undefined });
    const user = await t.seed.user();
    // Over the per-document limit (1 + 100 x 4 = 401 > 400) is QUERY_TOO_COMPLEX, whatever the bucket.
    const big = `{ tasks(first: 100) { nodes { id title dueDate } } }`;
    expectErrorCode(await small.gql(big, {}, user.accessToken), 'QUERY_TOO_COMPLEX');
    // Drain the bucket with writes it can pay for, then one more is refused before it runs.
    const write = (title: string) =>
      small.gql(
        `mutation($t: String!) { a: createTask(input: {title: $t}) { id title description status priority dueDate createdAt updatedAt completedAt } }`,
        { t: title },
        user.accessToken,
      );
    let refusal = null;
    const written: string[] = [];
    for (let i = 0; i < 60 && !refusal; i += 1) {
      const title = unique('costly');
      const res = await write(title);
      if (res.errors) refusal = { res, title };
      else written.push(title);
    }
    expect(refusal).not.toBeNull();
    const err = expectErrorCode(refusal!.res, 'RATE_LIMITED');
    expect(refusal!.res.status).toBe(429);
    expect(err.extensions?.retryAfter).toBeGreaterThanOrEqual(1);
    expect(Number(refusal!.res.headers.get('retry-after'))).toBe(err.extensions?.retryAfter);
    expect(refusal!.res.data ?? null).toBeNull();
    // The refused write did not happen.
    const titles = expectNoErrors(
      await t.gql(
        `query($s: String) { tasks(first: 100, filter: { search: $s }) { nodes { title } } }`,
        { s: refusal!.title },
        user.accessToken,
      ),
    ).tasks.nodes;
    expect(titles).toEqual([]);
    // retryAfter is true: after that long, the same request goes through.
    await new Promise((r) => setTimeout(r, err.extensions!.retryAfter * 1000));
    expectNoErrors(await write(unique('after')));
  });

  // Ten aliases of `me`: 70 points a request, all of them spent (nothing is paged).
  const ME = `{ ${Array.from({ length: 10 }, (_, i) => `m${i}: me { id email name role isActive createdAt }`).join(' ')} }`;
  /** Sends until the bucket refuses; the refusal. */
  async function drain(send: () => ReturnType<typeof gql>) {
    for (let i = 0; i < 30; i += 1) {
      const res = await send();
      if (res.errors) return expectErrorCode(res, 'RATE_LIMITED');
      expect(res.extensions?.cost.actualQueryCost).toBe(70);
    }
    throw new Error('the bucket never ran out');
  }

  it('keeps one bucket per user, per API key and per anonymous address', async () => {
    small = await startTestApp({ ...slow, redisUrl: undefined, trustProxy: true });
    const spender = await t.seed.user();
    const key = await t.seed.apiKey(spender, ['TASKS_READ']);
    const other = await t.seed.user();
    await drain(() => small.gql(ME, {}, spender.accessToken));
    // Neither the user's API key, nor another user, nor an anonymous caller paid for it.
    expectNoErrors(await small.gql(ME, {}, key.secret));
    expectNoErrors(await small.gql(ME, {}, other.accessToken));
    const plans = `{ ${Array.from({ length: 10 }, (_, i) => `p${i}: plans { tier name monthlyTokenQuota requestsPerMinute }`).join(' ')} }`;
    const anon = (address: string) =>
      gql(small.url, plans, {}, undefined, { 'x-forwarded-for': address });
    for (let i = 0; i < 30; i += 1) {
      const res = await anon('203.0.113.7');
      if (res.errors) {
        expectErrorCode(res, 'RATE_LIMITED');
        break;
      }
      expect(i).toBeLessThan(29);
    }
    expectNoErrors(await anon('203.0.113.8'));
    // And the API key has a bucket of its own to spend.
    await drain(() => small.gql(ME, {}, key.secret));
  });

  describeRedis('with Redis', () => {
    it('is shared by every instance through Redis', async () => {
      small = await startTestApp({ ...slow, redisUrl });
      const other = await startTestApp({ ...slow, redisUrl });
      try {
        const user = await t.seed.user();
        await drain(() => small.gql(ME, {}, user.accessToken));
        // The other instance sees the same, spent bucket.
        expectErrorCode(await other.gql(ME, {}, user.accessToken), 'RATE_LIMITED');
      } finally {
        await other.close();
      }
    });

    it('falls back to counting in-process when Redis stops answering, says so in /metrics, and goes back', async () => {
      const proxy = await startTcpProxy(new URL(redisUrl!));
      try {
        small = await startTestApp({
          ...slow,
          redisUrl: proxy.url(),
          redisCommandTimeoutMs: 100,
        });
        const user = await t.seed.user();
        const metric = async () => {
          const text = await (await fetch(`${small.url}/metrics`)).text();
          return Number(/^switchboard_redis_fallback (\d+)/m.exec(text)?.[1]);
        };
        expectNoErrors(await small.gql(`{ me { id } }`, {}, user.accessToken));
        expect(await metric()).toBe(0);
        proxy.blackhole();
        const started = performance.now();
        const res = await small.gql(`{ me { id } }`, {}, user.accessToken);
        expect(performance.now() - started).toBeLessThan(1_000);
        expectNoErrors(res);
        expect(await metric()).toBe(1);
        // Still limited while in-process: the bucket is this instance's own.
        await drain(() => small.gql(ME, {}, user.accessToken));
        await proxy.cut();
        await proxy.restore();
        let back = false;
        for (let i = 0; i < 40 && !back; i += 1) {
          await new Promise((r) => setTimeout(r, 250));
          await small.gql(`{ me { id } }`, {}, user.accessToken);
          back = (await metric()) === 0;
        }
        expect(back).toBe(true);
      } finally {
        await small?.close();
        await proxy.stop();
      }
    });
  });
});
