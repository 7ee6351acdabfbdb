import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors } from '../helpers/graphql';
import type { SeededUser } from '../helpers/seed';

/**
 * Task counts and daily usage sums are kept by triggers as rows come and go (migration
 * 20261201040000), and the users page, `tasks { totalCount }` and `usage` read them. Every
 * answer here is compared with a count or sum over the rows themselves: the kept figures must
 * never drift, whatever writes them (the API, a bulk statement, a delete, a cascade).
 */
let t: TestApp;
let admin: SeededUser;
beforeAll(async () => {
  t = await startTestApp({ bcryptCost: 4 });
  admin = await t.seed.admin();
});
afterAll(() => t.close());

const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) =>
  t.sql<T>(text, params);

async function rowCount(ownerId: string): Promise<number> {
  const [row] = await sql<{ n: string }>('select count(*) as n from tasks where owner_id = ?', [
    ownerId,
  ]);
  return Number(row!.n);
}

const COUNTS = `query($id: ID!) { user(id: $id) { tasks { totalCount } } }`;

async function keptCount(user: SeededUser): Promise<{ own: number; admin: number }> {
  const own = expectNoErrors(
    await t.gql<{ tasks: { totalCount: number } }>(
      `{ tasks { totalCount } }`,
      {},
      user.accessToken,
    ),
  );
  const seen = expectNoErrors(
    await t.gql<{ user: { tasks: { totalCount: number } } }>(
      COUNTS,
      { id: user.id },
      admin.accessToken,
    ),
  );
  return { own: own.tasks.totalCount, admin: seen.user.tasks.totalCount };
}

describe('task counts kept by triggers', () => {
  it('follow creates (one and 25 in one request), deletes and an admin delete exactly', async () => {
    const user = await t.seed.user();
    expect(await keptCount(user)).toEqual({ own: 0, admin: 0 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push((await t.seed.task(user, { title: `one ${i}` })).id);
    const many = Array.from(
      { length: 25 },
      (_, i) => `t${i}: createTask(input: { title: "batch ${i}" }) { id }`,
    ).join('\n');
    const created = expectNoErrors(
      await t.gql<Record<string, { id: string }>>(`mutation { ${many} }`, {}, user.accessToken),
    );
    ids.push(...Object.values(created).map((x) => x.id));
    expect(await keptCount(user)).toEqual({ own: 28, admin: 28 });
    expect(await rowCount(user.id)).toBe(28);

    expectNoErrors(
      await t.gql(`mutation($id: ID!) { deleteTask(id: $id) }`, { id: ids[0] }, user.accessToken),
    );
    expectNoErrors(
      await t.gql(
        `mutation($id: ID!) { adminDeleteTask(id: $id) }`,
        { id: ids[1] },
        admin.accessToken,
      ),
    );
    // A refused delete (someone else's task) changes nothing.
    const other = await t.seed.user();
    expectErrorCode(
      await t.gql(`mutation($id: ID!) { deleteTask(id: $id) }`, { id: ids[2] }, other.accessToken),
      'NOT_FOUND',
    );
    expect(await keptCount(user)).toEqual({ own: 26, admin: 26 });
    expect(await rowCount(user.id)).toBe(26);
  });

  it('stay exact under concurrent creates and deletes by one owner', async () => {
    const user = await t.seed.user();
    const made = await Promise.all(
      Array.from({ length: 20 }, (_, i) => t.seed.task(user, { title: `race ${i}` })),
    );
    await Promise.all(
      made
        .slice(0, 7)
        .map((task) =>
          t.gql(`mutation($id: ID!) { deleteTask(id: $id) }`, { id: task.id }, user.accessToken),
        ),
    );
    expect(await rowCount(user.id)).toBe(13);
    expect(await keptCount(user)).toEqual({ own: 13, admin: 13 });
  });

  it('follow rows written by plain SQL too, and the total over everyone is the table’s count', async () => {
    const a = await t.seed.user();
    const b = await t.seed.user();
    // One statement for two owners, then a delete across both.
    await sql(
      `insert into tasks (id, owner_id, title, status, priority, created_at, updated_at)
       select gen_random_uuid(), o, 'bulk ' || i, 'TODO', 'MEDIUM', now(), now()
         from unnest(?::uuid[]) o, generate_series(1, 5) i`,
      [`{${a.id},${b.id}}`],
    );
    await sql(
      `delete from tasks where id in (
         select id from tasks where owner_id = any(?::uuid[]) order by title limit 3)`,
      [`{${a.id},${b.id}}`],
    );
    for (const user of [a, b]) {
      const expected = await rowCount(user.id);
      expect((await keptCount(user)).admin).toBe(expected);
    }
    // Other test files write tasks meanwhile: the answer is compared with the table's count read
    // just before and just after it, retried until a moment when the three agree (up to 20
    // tries); a wrong total never agrees with both.
    const tableCount = async () =>
      Number((await sql<{ n: string }>('select count(*) as n from tasks'))[0]!.n);
    let seen: { before: number; answer: number; after: number } | undefined;
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const before = await tableCount();
      const all = expectNoErrors(
        await t.gql<{ allTasks: { totalCount: number } }>(
          `{ allTasks { totalCount } }`,
          {},
          admin.accessToken,
        ),
      );
      const after = await tableCount();
      seen = { before, answer: all.allTasks.totalCount, after };
      if (before === after && seen.answer === before) break;
    }
    expect(seen!.before).toBe(seen!.after);
    expect(seen!.answer).toBe(seen!.before);
  });

  it('refuse moving a task to another owner (it would leave both counts wrong)', async () => {
    const a = await t.seed.user();
    const b = await t.seed.user();
    const task = await t.seed.task(a);
    await expect(
      sql('update tasks set owner_id = ? where id = ?', [b.id, task.id]),
    ).rejects.toThrow(/never changes owner/);
    expect(await rowCount(a.id)).toBe(1);
    expect((await keptCount(a)).admin).toBe(1);
  });
});

describe('usage sums kept per UTC day', () => {
  const DAY = 86_400_000;
  // Midnight UTC, years before today: only these records fall in the ranges below, and none
  // in the windows of `adminStats` (the last N days), which other suites measure as deltas
  // while this one deletes.
  const base = Date.UTC(2011, 2, 10);
  const times = [
    base - 1, // the last millisecond of the day before
    base, // midnight exactly
    base + 1,
    base + 5 * 3_600_000,
    base + DAY - 1,
    base + DAY,
    base + DAY + 12 * 3_600_000,
    base + 2 * DAY + 1,
    base + 3 * DAY + 23 * 3_600_000,
    base + 4 * DAY,
  ];

  let user: SeededUser;
  let toolId: string;
  beforeAll(async () => {
    user = await t.seed.user();
    const [tool] = await sql<{ id: string }>(`select id from tools where slug = 'text-stats'`);
    toolId = tool!.id;
    // Some in one statement, some one by one: the trigger sums either way.
    await sql(
      `insert into usage_records (id, user_id, tool_id, input_tokens, output_tokens, total_tokens, status, latency_ms, created_at)
       select gen_random_uuid(), ?, ?, 1, t.n, t.n + 1, 'SUCCEEDED', 1, t.at
         from unnest(?::timestamptz[], ?::int[]) as t(at, n)`,
      [
        user.id,
        toolId,
        `{${times
          .slice(0, 6)
          .map((ms) => new Date(ms).toISOString())
          .join(',')}}`,
        `{${times
          .slice(0, 6)
          .map((_, i) => 10 * (i + 1))
          .join(',')}}`,
      ],
    );
    for (const [i, ms] of times.slice(6).entries()) {
      await sql(
        `insert into usage_records (id, user_id, tool_id, input_tokens, output_tokens, total_tokens, status, latency_ms, created_at)
         values (?, ?, ?, 1, ?, ?, 'SUCCEEDED', 1, ?)`,
        [randomUUID(), user.id, toolId, 100 * (i + 1), 100 * (i + 1) + 1, new Date(ms)],
      );
    }
  });

  async function fromRecords(from: number, to: number) {
    const [row] = await sql<{ calls: string; tokens: string }>(
      `select count(*) as calls, coalesce(sum(total_tokens), 0) as tokens from usage_records
        where user_id = ? and created_at >= ? and created_at < ?`,
      [user.id, new Date(from), new Date(to)],
    );
    return { calls: Number(row!.calls), totalTokens: Number(row!.tokens) };
  }

  async function answered(from: number, to: number) {
    const USAGE = `query($id: ID!, $from: DateTime, $to: DateTime) {
      user(id: $id) { usage(from: $from, to: $to) { calls totalTokens } }
    }`;
    const data = expectNoErrors(
      await t.gql<{ user: { usage: { calls: number; totalTokens: number } } }>(
        USAGE,
        { id: user.id, from: new Date(from).toISOString(), to: new Date(to).toISOString() },
        admin.accessToken,
      ),
    );
    return data.user.usage;
  }

  /** Range edges anywhere in a day: before, at and after midnights, inside a day. */
  const edges = [
    base - DAY,
    base - 1,
    base,
    base + 1,
    base + 3 * 3_600_000,
    base + DAY - 1,
    base + DAY,
    base + DAY + 1,
    base + 2 * DAY + 2,
    base + 3 * DAY,
    base + 5 * DAY,
  ];

  it('answer exactly what the records sum to, for ranges whose edges fall anywhere in a day', async () => {
    let checked = 0;
    for (const from of edges) {
      for (const to of edges) {
        if (to <= from) continue;
        expect({ from, to, ...(await answered(from, to)) }).toEqual({
          from,
          to,
          ...(await fromRecords(from, to)),
        });
        checked += 1;
      }
    }
    expect(checked).toBe(55);
    // All of them, and the admin page's read of the same range.
    expect(await answered(base - DAY, base + 5 * DAY)).toEqual({ calls: 10, totalTokens: 1_220 });
    const page = expectNoErrors(
      await t.gql<{ users: { nodes: { id: string; usage: { calls: number } }[] } }>(
        `query($s: String, $from: DateTime, $to: DateTime) {
          users(first: 5, filter: { search: $s }) { nodes { id usage(from: $from, to: $to) { calls totalTokens } } }
        }`,
        {
          s: user.email,
          from: new Date(base + 1).toISOString(),
          to: new Date(base + 3 * DAY).toISOString(),
        },
        admin.accessToken,
      ),
    );
    expect(page.users.nodes).toEqual([
      { id: user.id, usage: await fromRecords(base + 1, base + 3 * DAY) },
    ]);
  });

  type Day = { day: string; calls: number; totalTokens: number };

  /** The records in [from, to) grouped by UTC day, oldest first: what byDay must answer. */
  async function daysFromRecords(from: number, to: number): Promise<Day[]> {
    const rows = await sql<{ day: string; calls: string; tokens: string }>(
      `select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as day, count(*) as calls,
              coalesce(sum(total_tokens), 0) as tokens
         from usage_records where user_id = ? and created_at >= ? and created_at < ?
        group by day order by day`,
      [user.id, new Date(from), new Date(to)],
    );
    return rows.map((r) => ({ day: r.day, calls: Number(r.calls), totalTokens: Number(r.tokens) }));
  }

  async function answeredDays(from: number, to: number): Promise<Day[]> {
    const data = expectNoErrors(
      await t.gql<{ user: { usage: { byDay: Day[] } } }>(
        `query($id: ID!, $from: DateTime, $to: DateTime) {
          user(id: $id) { usage(from: $from, to: $to) { byDay { day calls totalTokens } } }
        }`,
        { id: user.id, from: new Date(from).toISOString(), to: new Date(to).toISOString() },
        admin.accessToken,
      ),
    );
    return data.user.usage.byDay;
  }

  it('give each day of a range exactly what its records sum to, whichever pieces of a day the range cuts', async () => {
    let days = 0;
    for (const from of edges) {
      for (const to of edges) {
        if (to <= from) continue;
        const expected = await daysFromRecords(from, to);
        expect({ from, to, days: await answeredDays(from, to) }).toEqual({
          from,
          to,
          days: expected,
        });
        days += expected.length;
      }
    }
    // Ranges over one, several and no whole days, with records on every day of base .. base + 4.
    expect(days).toBeGreaterThan(100);
    expect(await answeredDays(base - DAY, base + 5 * DAY)).toEqual([
      { day: '2011-03-09', calls: 1, totalTokens: 11 },
      { day: '2011-03-10', calls: 4, totalTokens: 144 },
      { day: '2011-03-11', calls: 2, totalTokens: 162 },
      { day: '2011-03-12', calls: 1, totalTokens: 201 },
      { day: '2011-03-13', calls: 1, totalTokens: 301 },
      { day: '2011-03-14', calls: 1, totalTokens: 401 },
    ]);
  });

  it('subtract a deleted record, refuse changing one, and go with the user', async () => {
    const before = await fromRecords(base - DAY, base + 5 * DAY);
    await sql(`delete from usage_records where user_id = ? and created_at = ?`, [
      user.id,
      new Date(base + DAY),
    ]);
    const after = await fromRecords(base - DAY, base + 5 * DAY);
    expect(after.calls).toBe(before.calls - 1);
    expect(await answered(base - DAY, base + 5 * DAY)).toEqual(after);
    expect(await answered(base, base + 2 * DAY)).toEqual(await fromRecords(base, base + 2 * DAY));
    expect(await answeredDays(base - DAY, base + 5 * DAY)).toEqual(
      await daysFromRecords(base - DAY, base + 5 * DAY),
    );
    // A day whose only record goes is no day of calls, though its kept row stays (at 0).
    await sql(`delete from usage_records where user_id = ? and created_at = ?`, [
      user.id,
      new Date(base + 4 * DAY),
    ]);
    const [kept] = await sql<{ calls: string }>(
      `select calls from usage_daily where user_id = ? and day = '2011-03-14'`,
      [user.id],
    );
    expect(kept?.calls ?? '0').toBe('0');
    const days = await answeredDays(base - DAY, base + 5 * DAY);
    expect(days.map((d) => d.day)).not.toContain('2011-03-14');
    expect(days).toEqual(await daysFromRecords(base - DAY, base + 5 * DAY));
    await expect(
      sql(`update usage_records set total_tokens = total_tokens + 1 where user_id = ?`, [user.id]),
    ).rejects.toThrow(/never change/);
    // Removing a user (by an operator: the API has no such mutation) cascades through both.
    // In a transaction rolled back at the end, so that suites counting users and calls at the
    // same time never see this user come and go.
    const knex = (t.app.orm.em.getConnection() as unknown as { getKnex(): Knex }).getKnex();
    const trx = await knex.transaction();
    try {
      const gone = randomUUID();
      await trx.raw(
        `insert into users (id, email, name, password_hash, created_at, updated_at)
         values (?, ?, 'gone', 'x', now(), now())`,
        [gone, `gone-${gone}@example.test`],
      );
      await trx.raw(
        `insert into tasks (id, owner_id, title, created_at, updated_at) values (?, ?, 'gone', now(), now())`,
        [randomUUID(), gone],
      );
      await trx.raw(
        `insert into usage_records (id, user_id, tool_id, input_tokens, output_tokens, total_tokens, status, latency_ms, created_at)
         values (?, ?, ?, 1, 1, 2, 'SUCCEEDED', 1, ?)`,
        [randomUUID(), gone, toolId, new Date(base)],
      );
      const kept = `select 1 from task_counts where owner_id = ? union all select 1 from usage_daily where user_id = ?`;
      expect((await trx.raw(kept, [gone, gone])).rows).toHaveLength(2);
      await trx.raw('delete from users where id = ?', [gone]);
      expect((await trx.raw(kept, [gone, gone])).rows).toEqual([]);
    } finally {
      await trx.rollback();
    }
  });
});
