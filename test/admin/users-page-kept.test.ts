import { IsolationLevel } from '@mikro-orm/core';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors } from '../helpers/graphql';
import type { SeededUser } from '../helpers/seed';
import { User } from '../../src/entities';
import type { UserPageAggregates } from '../../src/entities/user.repository';

/**
 * The admin's unfiltered users page is read through `users_page` (migration 20261202010000), a
 * PL/pgSQL function whose plans PostgreSQL keeps per connection, instead of the statement built
 * as text. These tests hold it to answering exactly what the text answers: the same users in
 * the same order, the same cursors, the same task counts and usage totals for windows whose
 * edges fall anywhere in a day, and nothing computed that was not asked for.
 */
let t: TestApp;
let admin: SeededUser;
let user: SeededUser;

const DAY = 86_400_000;
// Midnight UTC, years before today: no other suite's window (the last N days) sees these.
const base = Date.UTC(2012, 4, 20);
const times = [
  base - 1,
  base,
  base + 1,
  base + 7 * 3_600_000,
  base + DAY - 1,
  base + DAY,
  base + 2 * DAY + 13 * 3_600_000,
  base + 3 * DAY + 1,
];

beforeAll(async () => {
  t = await startTestApp({ bcryptCost: 4 });
  admin = await t.seed.admin();
  user = await t.seed.user();
  // Enough users for three pages of four, whatever else the database holds.
  await Promise.all(Array.from({ length: 12 }, () => t.seed.user()));
  const [tool] = await t.sql<{ id: string }>(`select id from tools where slug = 'text-stats'`);
  await t.sql(
    `insert into usage_records (id, user_id, tool_id, input_tokens, output_tokens, total_tokens, status, latency_ms, created_at)
     select gen_random_uuid(), ?, ?, 1, t.n, t.n + 1, 'SUCCEEDED', 1, t.at
       from unnest(?::timestamptz[], ?::int[]) as t(at, n)`,
    [
      user.id,
      tool!.id,
      `{${times.map((ms) => new Date(ms).toISOString()).join(',')}}`,
      `{${times.map((_, i) => 10 * (i + 1)).join(',')}}`,
    ],
  );
  for (let i = 0; i < 3; i += 1) {
    expectNoErrors(
      await t.gql(
        `mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }`,
        { i: { title: `kept page ${i}` } },
        user.accessToken,
      ),
    );
  }
});
afterAll(() => t.close());

/** The users page both ways, in one snapshot (other suites add users meanwhile). */
async function bothWays(first: number, after: string | null, aggregates: UserPageAggregates) {
  return t.app.orm.em.fork().transactional(
    async (tx) => {
      const users = tx.getRepository(User);
      const read = async (asText: boolean) => {
        const { page, aggregates: byId } = await users.page(null, first, after, aggregates, asText);
        return {
          rows: page.rows.map((u) => ({
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            isActive: u.isActive,
            createdAt: u.createdAt.toISOString(),
            updatedAt: u.updatedAt.toISOString(),
          })),
          cursors: page.rows.map((_, i) => page.cursorAt(i)),
          hasNextPage: page.hasNextPage,
          aggregates: [...byId.entries()],
        };
      };
      return { kept: await read(false), text: await read(true) };
    },
    { isolationLevel: IsolationLevel.REPEATABLE_READ },
  );
}

describe('users_page, the admin’s users page kept in the database', () => {
  it('answers what the statement built as text answers, page after page, each aggregate as asked', async () => {
    const windows = [
      { from: new Date(base - DAY), to: new Date(base + 4 * DAY) },
      { from: new Date(base + 1), to: new Date(base + DAY) },
      { from: new Date(base + 3_600_000), to: new Date(base + 2 * DAY + 14 * 3_600_000) },
      { from: new Date(base), to: new Date(base) },
      { from: new Date(base + 5), to: new Date(base + 3) },
      { from: new Date(Date.now() - 30 * DAY), to: new Date() },
    ];
    const shapes: UserPageAggregates[] = [
      {},
      { taskCounts: true },
      ...windows.map((usage) => ({ usage })),
      ...windows.map((usage) => ({ taskCounts: true, usage })),
    ];
    for (const aggregates of shapes) {
      let after: string | null = null;
      for (let n = 0; n < 3; n += 1) {
        const { kept, text } = await bothWays(4, after, aggregates);
        expect(kept).toEqual(text);
        expect(kept.rows).toHaveLength(4);
        // Only what was asked for is read: no entry at all without aggregates.
        if (!aggregates.taskCounts && !aggregates.usage) expect(kept.aggregates).toEqual([]);
        for (const [, a] of kept.aggregates) {
          expect(a.taskCount === undefined).toBe(!aggregates.taskCounts);
          expect(a.usage === undefined).toBe(!aggregates.usage);
        }
        after = kept.cursors[kept.cursors.length - 1]!;
      }
    }
  });

  it('sums the user’s records exactly, whichever pieces of a day the window cuts', async () => {
    const edges = [base - DAY, base - 1, base, base + 1, base + 7 * 3_600_000, base + DAY - 1];
    const ends = [base + DAY, base + DAY + 1, base + 3 * DAY, base + 3 * DAY + 2, base + 5 * DAY];
    for (const from of edges) {
      for (const to of ends) {
        const expected = times
          .map((ms, i) => ({ ms, tokens: 10 * (i + 1) + 1 }))
          .filter(({ ms }) => ms >= from && ms < to);
        const { kept } = await bothWays(100, null, {
          taskCounts: true,
          usage: { from: new Date(from), to: new Date(to) },
        });
        const mine = new Map(kept.aggregates).get(user.id);
        expect(mine).toEqual({
          taskCount: 3,
          usage: {
            calls: expected.length,
            totalTokens: expected.reduce((sum, r) => sum + r.tokens, 0),
          },
        });
      }
    }
  });

  it('serves the admin page through the GraphQL API in two statements, a filtered one as text', async () => {
    const page = `query($from: DateTime, $to: DateTime, $s: String) {
      users(first: 100, filter: { search: $s }) {
        nodes { id tasks { totalCount } usage(from: $from, to: $to) { calls totalTokens } }
        pageInfo { hasNextPage endCursor }
      }
    }`;
    const vars = { from: new Date(base).toISOString(), to: new Date(base + 3 * DAY).toISOString() };
    // Records at base .. base + 2 days 13 h: six of them, the tokens 10 * (i + 1) + 1.
    const inWindow = times.flatMap((ms, i) =>
      ms >= base && ms < base + 3 * DAY ? [10 * i + 11] : [],
    );
    expect(inWindow).toHaveLength(6);
    let data: { users: { nodes: { id: string; tasks: { totalCount: number }; usage: unknown }[] } };
    const sql = await t.countQueries(async () => {
      data = expectNoErrors(await t.gql(page, vars, admin.accessToken));
    });
    expect(sql).toHaveLength(2);
    expect(sql[1]).toMatch(/^select \* from users_page\(/);
    const mine = data!.users.nodes.find((n) => n.id === user.id);
    expect(mine).toEqual({
      id: user.id,
      tasks: { totalCount: 3 },
      usage: { calls: inWindow.length, totalTokens: inWindow.reduce((a, b) => a + b, 0) },
    });

    let filtered: typeof data;
    const filteredSql = await t.countQueries(async () => {
      filtered = expectNoErrors(
        await t.gql(page, { ...vars, s: user.email }, admin.accessToken),
      ) as typeof data;
    });
    expect(filteredSql).toHaveLength(2);
    expect(filteredSql[1]).not.toMatch(/users_page/);
    expect(filtered!.users.nodes).toEqual([mine]);
  });

  it('refuses a malformed cursor as the text statement does, and answers USER only to admins', async () => {
    const res = await t.gql(
      `{ users(first: 5, after: "not-a-cursor") { nodes { id } } }`,
      {},
      admin.accessToken,
    );
    expectErrorCode(res, 'BAD_USER_INPUT');
    const other = await t.gql(`{ users(first: 5) { nodes { id } } }`, {}, user.accessToken);
    expectErrorCode(other, 'FORBIDDEN');
    expect(other.data?.users ?? null).toBeNull();
  });

  it('reads no usage rows and no task counts that were not asked for', async () => {
    // What users_page scanned, by table: PostgreSQL's counts of this backend's scans not yet
    // reported (they are reported between transactions, never inside one), read before and
    // after the call in one transaction. users_page's own statements are in no statement log.
    const scans = (aggregates: { counts: boolean; usage: boolean }) =>
      t.app.orm.em.fork().transactional(async (tx) => {
        const run = (text: string, params: unknown[] = []) =>
          tx.getConnection().execute(text, params, 'all', tx.getTransactionContext());
        const counters = async () => {
          const rows = (await run(
            `select relname, coalesce(idx_scan, 0) + coalesce(seq_scan, 0) as scans
               from pg_stat_xact_user_tables
              where relname in ('usage_records', 'usage_daily', 'task_counts')`,
          )) as { relname: string; scans: string }[];
          return new Map(rows.map((r) => [r.relname, Number(r.scans)]));
        };
        const before = await counters();
        // Seven calls: PostgreSQL plans the first five for their values, and may keep a generic
        // plan from the sixth on; both kinds are held to it.
        for (let i = 0; i < 7; i += 1)
          await run(
            `select * from users_page(100, null, null, ?, ?, ?, ?, ?::date, ?::date, ?, ?)`,
            [
              aggregates.counts,
              aggregates.usage,
              new Date(base - DAY),
              new Date(base),
              '2012-05-20',
              '2012-05-24',
              new Date(base + 4 * DAY),
              new Date(base + 4 * DAY + 1),
            ],
          );
        const after = await counters();
        return Object.fromEntries([...after].map(([name, n]) => [name, n - before.get(name)!]));
      });
    const none = await scans({ counts: false, usage: false });
    expect(none).toEqual({ usage_records: 0, usage_daily: 0, task_counts: 0 });
    const both = await scans({ counts: true, usage: true });
    expect(both.usage_records).toBeGreaterThan(0);
    expect(both.usage_daily).toBeGreaterThan(0);
    expect(both.task_counts).toBeGreaterThan(0);
    const countsOnly = await scans({ counts: true, usage: false });
    expect(countsOnly).toMatchObject({ usage_records: 0, usage_daily: 0 });
    expect(countsOnly.task_counts).toBeGreaterThan(0);
  });
});
