import jwt from 'jsonwebtoken';
import { Client } from 'pg';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, type GraphQLResponse } from '../helpers/graphql';
import { unique } from '../helpers/seed';
import { withDeadline } from '../../src/db/deadline';
import { saysDatabaseUnavailable } from '../../src/db/unavailable';
import { User } from '../../src/entities';

import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';

const sessionOf = (token: string) => (jwt.decode(token) as { sid: string }).sid;

// PGlite runs inside this process: a partition cannot happen to it and no timer can fire while
// it works, so these run on PostgreSQL only (CI runs both).
const onPostgres = Boolean(process.env.DATABASE_URL);
const describePg = onPostgres ? describe : describe.skip; // skipped on PGlite: no partition or timer there

const DEADLINE_MS = 1_500;
const CREATE = `mutation($i: CreateTaskInput!) { createTask(input: $i) { id title } }`;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

async function titlesInDatabase(titles: string[]): Promise<Set<string>> {
  const client = new Client({ connectionString: process.env.TEST_DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ title: string }>(
      'select title from tasks where title = any($1::text[])',
      [titles],
    );
    return new Set(rows.map((r) => r.title));
  } finally {
    await client.end();
  }
}

describePg('a sick database fails fast and says so', () => {
  let proxy: TcpProxy;
  let t: TestApp;
  let token: string;
  let direct: TestApp;

  beforeEach(async () => {
    proxy = await startTcpProxy(new URL(process.env.TEST_DATABASE_URL!));
    // The app reaches the database only through the proxy; `direct` seeds around it.
    direct = await startTestApp();
    t = await startTestApp({
      databaseUrl: proxy.url(),
      dbPoolMax: 3,
      requestTimeoutMs: DEADLINE_MS,
      dbAcquireTimeoutMs: 1_000,
      dbConnectTimeoutMs: 1_000,
    });
    token = (await direct.seed.user()).accessToken;
    expectNoErrors(await t.gql(`{ me { id } }`, {}, token));
  });
  afterEach(async () => {
    await t.close();
    await direct.close();
    await proxy.stop();
  });

  /** Reads, writes and the credential check all answer SERVICE_UNAVAILABLE in time. */
  async function expectUnavailableInTime(label: string) {
    const requests: [string, () => Promise<GraphQLResponse>][] = [
      ['me', () => t.gql(`{ me { id } }`, {}, token)],
      ['tasks', () => t.gql(`{ tasks(first: 5) { totalCount nodes { id } } }`, {}, token)],
      ['createTask', () => t.gql(CREATE, { i: { title: unique('lost') } }, token)],
      ['plans (public)', () => t.gql(`{ plans { tier } }`)],
    ];
    const results = await Promise.all(requests.map(([, send]) => timed(send)));
    results.forEach(({ ms, value }, i) => {
      const what = `${label}: ${requests[i]![0]}`;
      expect({ what, fast: ms < DEADLINE_MS + 1_000 }).toEqual({ what, fast: true });
      const err = expectErrorCode(value, 'SERVICE_UNAVAILABLE');
      expect(err.extensions?.retryAfter).toBeGreaterThanOrEqual(1);
      expect({ what, status: value.status }).toEqual({ what, status: 503 });
      expect(Number(value.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(value.data ?? null).toBeNull();
    });
    const ready = await fetch(`${t.url}/ready`);
    expect(ready.status).toBe(503);
  }

  /** Writes keep going while the outage comes and goes; every acknowledged one is kept. */
  async function expectWritesThrough(outage: () => Promise<void> | void) {
    const acknowledged: string[] = [];
    const refused: string[] = [];
    let writing = true;
    const writer = (async () => {
      while (writing) {
        const title = unique('w');
        const res = await t.gql(CREATE, { i: { title } }, token);
        if (res.errors?.length) {
          expectErrorCode(res, 'SERVICE_UNAVAILABLE');
          refused.push(title);
        } else acknowledged.push(title);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    await outage();
    await expectUnavailableInTime('during the outage');
    const restoredAt = performance.now();
    await proxy.restore();
    // Writes succeed again within a second of the database coming back.
    let back = false;
    while (!back && performance.now() - restoredAt < 1_000) {
      const res = await t.gql(CREATE, { i: { title: unique('after') } }, token);
      back = !res.errors?.length;
    }
    expect(back).toBe(true);
    writing = false;
    await writer;
    expect(acknowledged.length).toBeGreaterThan(0);
    // No acknowledged write is lost.
    const kept = await titlesInDatabase(acknowledged);
    expect(acknowledged.filter((title) => !kept.has(title))).toEqual([]);
    expect((await fetch(`${t.url}/ready`)).status).toBe(200);
  }

  it('connections cut (RST, then refused): every request answers SERVICE_UNAVAILABLE with 503 and Retry-After, then recovers', async () => {
    await expectWritesThrough(() => proxy.cut());
  });

  it('packets silently dropped (a partition): every request answers within the deadline, then recovers', async () => {
    await expectWritesThrough(() => proxy.blackhole());
  });

  it('a request that cannot get a pooled connection before its deadline answers SERVICE_UNAVAILABLE', async () => {
    // Three connections hang on the partition; the fourth request waits for one and gives up.
    // The requests go 50 ms apart: sent at once, their session checks would go to the
    // database as one statement on one connection (src/db/coalesce.ts; the next test).
    proxy.blackhole();
    const sql = await t.countQueries(async () => {
      const all = await Promise.all(
        Array.from({ length: 6 }, async (_, i) => {
          await new Promise((r) => setTimeout(r, 50 * i));
          return timed(() => t.gql(`{ me { id } }`, {}, token));
        }),
      );
      for (const { ms, value } of all) {
        expect(ms).toBeLessThan(DEADLINE_MS + 1_000);
        expectErrorCode(value, 'SERVICE_UNAVAILABLE');
      }
    });
    // Three sent on the three connections; the other three never had one.
    expect(sql.filter((s) => s.includes('session_account('))).toHaveLength(3);
  });

  it('calls that go to the database together are each refused SERVICE_UNAVAILABLE within their deadline', async () => {
    const others = await Promise.all(Array.from({ length: 7 }, () => direct.seed.user()));
    const sessions = others.map((u) => ({ id: u.id, sid: sessionOf(u.accessToken) }));
    const repo = t.app.orm.em.fork().getRepository(User);
    const ask = () => Promise.allSettled(sessions.map((s) => repo.activeBySession(s.id, s.sid)));
    proxy.blackhole();
    let settled: PromiseSettledResult<unknown>[] = [];
    const started = performance.now();
    const sql = await t.countQueries(async () => {
      // As a request's: under its deadline (src/http/graphql-handler.ts).
      settled = await withDeadline(DEADLINE_MS, ask);
    });
    expect(performance.now() - started).toBeLessThan(DEADLINE_MS + 1_000);
    // One statement carried the seven calls, on a connection that never answered.
    expect(sql).toHaveLength(1);
    expect(sql[0]).toMatch(/\bunnest\(/);
    for (const s of settled) {
      expect(s.status).toBe('rejected');
      expect(saysDatabaseUnavailable((s as PromiseRejectedResult).reason)).toBe(true);
    }
    await proxy.restore();
    const back = await withDeadline(DEADLINE_MS, ask);
    expect(back.map((s) => s.status === 'fulfilled' && (s.value as User).id)).toEqual(
      others.map((u) => u.id),
    );
  });
});

describePg('server-side timeouts', () => {
  it('are set on the database, not sent in the startup packet, so new sessions have them', async () => {
    const client = new Client({ connectionString: process.env.TEST_DATABASE_URL });
    await client.connect();
    try {
      const show = async (name: string) =>
        (await client.query<Record<string, string>>(`show ${name}`)).rows[0]![name];
      expect(await show('statement_timeout')).toBe('5s');
      expect(await show('lock_timeout')).toBe('3s');
      expect(await show('idle_in_transaction_session_timeout')).toBe('30s');
      await expect(client.query('select pg_sleep(6)')).rejects.toMatchObject({ code: '57014' });
    } finally {
      await client.end();
    }
  }, 15_000);
});
