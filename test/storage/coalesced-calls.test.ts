import jwt from 'jsonwebtoken';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors } from '../helpers/graphql';
import type { SeededUser } from '../helpers/seed';
import { createTasks, FAST_HASHING } from '../tasks/task-fixtures';
import { MAX_COALESCED_CALLS } from '../../src/db/coalesce';
import { runsStatementsAsText } from '../../src/db/query';
import { ApiKey, Task, User } from '../../src/entities';
import { parseApiKey } from '../../src/auth/tokens';
import { DEFAULT_TASK_ORDER } from '../../src/entities/task.repository';

/**
 * Calls of a kept function (the session check `session_account`, the tasks page
 * `session_tasks_page[_slim]`) that concurrent requests make in one turn of the event loop go
 * to PostgreSQL as one statement (src/db/coalesce.ts). These tests hold each call to its own
 * answer: the row of its own session and nobody else's, a gone session or a deactivated
 * account answered as alone, a bad value failing only its own call. On PGlite every call goes
 * alone (one backend, statements as text): the answers are the same, the statement counts are
 * one a call.
 */
let t: TestApp;
let users: SeededUser[];
let coalesces: boolean;
const sessionOf = (u: SeededUser) => (jwt.decode(u.accessToken) as { sid: string }).sid;
const TOGETHER = /\bunnest\(/;

beforeAll(async () => {
  t = await startTestApp(FAST_HASHING);
  coalesces = !runsStatementsAsText(t.app.orm.em);
  users = await Promise.all(Array.from({ length: 12 }, (_, i) => t.seed.user({ name: `C${i}` })));
  for (const u of users) {
    await createTasks(
      t,
      u,
      [1, 2, 3].map((n) => ({ title: `${u.email} task ${n}` })),
    );
  }
});
afterAll(() => t.close());

describe('session checks made in one turn', () => {
  it('go as one statement, each answered with its own account', async () => {
    const repo = t.app.orm.em.fork().getRepository(User);
    let answers: Awaited<ReturnType<typeof repo.activeBySession>>[] = [];
    const sql = await t.countQueries(async () => {
      answers = await Promise.all(users.map((u) => repo.activeBySession(u.id, sessionOf(u))));
    });
    expect(answers.map((a) => a && { id: a.id, email: a.email })).toEqual(
      users.map((u) => ({ id: u.id, email: u.email })),
    );
    if (coalesces) {
      expect(sql).toHaveLength(1);
      expect(sql[0]).toMatch(TOGETHER);
      expect(sql[0]).toContain('session_account(');
      // /metrics counts the calls each statement carried.
      const metrics = await (await fetch(`${t.url}/metrics`)).text();
      const count = (le: string) =>
        Number(
          new RegExp(`^switchboard_db_coalesced_calls_bucket\\{le="${le}"\\} (\\d+)`, 'm').exec(
            metrics,
          )?.[1],
        );
      expect(count('16') - count('8')).toBeGreaterThanOrEqual(1);
    } else {
      expect(sql).toHaveLength(users.length);
    }
  });

  it('answer a revoked session, a deactivated account and a session named with another user as alone: no account', async () => {
    const [revoked, deactivated, other, ...rest] = await Promise.all(
      Array.from({ length: 6 }, (_, i) => t.seed.user({ name: `R${i}` })),
    );
    await t.sql(`update auth_sessions set revoked_at = now() where id = ?`, [sessionOf(revoked!)]);
    await t.sql(`update users set is_active = false where id = ?`, [deactivated!.id]);
    const repo = t.app.orm.em.fork().getRepository(User);
    const calls: [string, string][] = [
      [rest[0]!.id, sessionOf(rest[0]!)],
      [revoked!.id, sessionOf(revoked!)],
      [rest[1]!.id, sessionOf(rest[1]!)],
      [deactivated!.id, sessionOf(deactivated!)],
      // Another user's id with this session: the check is of the pair.
      [rest[2]!.id, sessionOf(other!)],
      [other!.id, sessionOf(other!)],
    ];
    let answers: (string | null)[] = [];
    const sql = await t.countQueries(async () => {
      answers = (await Promise.all(calls.map(([id, sid]) => repo.activeBySession(id, sid)))).map(
        (a) => a?.id ?? null,
      );
    });
    expect(answers).toEqual([rest[0]!.id, null, rest[1]!.id, null, null, other!.id]);
    expect(sql).toHaveLength(coalesces ? 1 : calls.length);
  });

  it('a bad value fails its own call only: the others are answered, each then alone', async () => {
    const repo = t.app.orm.em.fork().getRepository(User);
    const picked = users.slice(0, 4);
    let settled: PromiseSettledResult<unknown>[] = [];
    const sql = await t.countQueries(async () => {
      settled = await Promise.allSettled([
        ...picked.map((u) => repo.activeBySession(u.id, sessionOf(u))),
        // Not a uuid: PostgreSQL refuses the cast, which fails the statement it is in.
        repo.activeBySession(picked[0]!.id, 'not-a-session-id'),
      ]);
    });
    expect(
      settled.slice(0, 4).map((s) => s.status === 'fulfilled' && (s.value as User).id),
    ).toEqual(picked.map((u) => u.id));
    expect(settled[4]!.status).toBe('rejected');
    // Together first (refused), then each call alone.
    expect(sql).toHaveLength(coalesces ? 1 + 5 : 5);
    if (coalesces) {
      expect(sql[0]).toMatch(TOGETHER);
      expect(sql.slice(1).some((s) => TOGETHER.test(s))).toBe(false);
    }
  });

  it(`more than ${MAX_COALESCED_CALLS} calls go as several statements`, async () => {
    const repo = t.app.orm.em.fork().getRepository(User);
    const calls = Array.from(
      { length: 2 * MAX_COALESCED_CALLS + 6 },
      (_, i) => users[i % users.length]!,
    );
    let answers: (string | null)[] = [];
    const sql = await t.countQueries(async () => {
      answers = (await Promise.all(calls.map((u) => repo.activeBySession(u.id, sessionOf(u))))).map(
        (a) => a?.id ?? null,
      );
    });
    expect(answers).toEqual(calls.map((u) => u.id));
    expect(sql).toHaveLength(coalesces ? 3 : calls.length);
  });

  it('with DB_COALESCE=false every call goes alone', async () => {
    const apart = await startTestApp({ ...FAST_HASHING, dbCoalesce: false });
    try {
      const repo = apart.app.orm.em.fork().getRepository(User);
      let answers: (string | null)[] = [];
      const sql = await apart.countQueries(async () => {
        answers = (
          await Promise.all(users.map((u) => repo.activeBySession(u.id, sessionOf(u))))
        ).map((a) => a?.id ?? null);
      });
      expect(answers).toEqual(users.map((u) => u.id));
      expect(sql).toHaveLength(users.length);
      expect(sql.some((s) => TOGETHER.test(s))).toBe(false);
    } finally {
      await apart.close();
    }
  });

  it('calls inside a transaction go alone, on the transaction', async () => {
    const em = t.app.orm.em.fork();
    let answers: (string | null)[] = [];
    const sql = await t.countQueries(async () => {
      answers = await em.transactional(async (tem) => {
        const repo = tem.getRepository(User);
        // One after the other: a transaction's connection runs one statement at a time.
        const ids: (string | null)[] = [];
        for (const u of users.slice(0, 3)) {
          ids.push((await repo.activeBySession(u.id, sessionOf(u)))?.id ?? null);
        }
        return ids;
      });
    });
    expect(answers).toEqual(users.slice(0, 3).map((u) => u.id));
    expect(sql.filter((s) => s.includes('session_account('))).toHaveLength(3);
    expect(sql.some((s) => TOGETHER.test(s))).toBe(false);
  });
});

describe('tasks pages read in one turn', () => {
  it('go as one statement: each page under its own session check, of its own tasks, cursors included', async () => {
    const repo = t.app.orm.em.fork().getRepository(Task);
    const query = (after: string | null = null) => ({ order: DEFAULT_TASK_ORDER, first: 2, after });
    const titles = (p: Awaited<ReturnType<typeof repo.sessionPage>>) =>
      p && {
        account: p.account.id,
        titles: p.page.rows.map((r) => r.title),
        next: p.page.hasNextPage,
      };
    // Alone, one after the other: what each page is.
    const alone = [];
    for (const u of users)
      alone.push(titles(await repo.sessionPage(u.id, sessionOf(u), query(), true)));
    let firsts: Awaited<ReturnType<typeof repo.sessionPage>>[] = [];
    const sql = await t.countQueries(async () => {
      firsts = await Promise.all([
        ...users.map((u) => repo.sessionPage(u.id, sessionOf(u), query(), true)),
        // Another user's session: no page at all.
        repo.sessionPage(users[0]!.id, sessionOf(users[1]!), query(), true),
      ]);
    });
    expect(firsts.map(titles)).toEqual([...alone, null]);
    for (const [i, p] of firsts.slice(0, users.length).entries()) {
      expect(p!.page.rows.map((r) => r.title)).toEqual([
        `${users[i]!.email} task 3`,
        `${users[i]!.email} task 2`,
      ]);
    }
    expect(sql).toHaveLength(coalesces ? 1 : users.length + 1);
    if (coalesces) expect(sql[0]).toMatch(/\bunnest\(.*session_tasks_page_slim\(/s);
    // The next pages, from each page's own cursor, together again.
    const nexts = await Promise.all(
      users.map((u, i) =>
        repo.sessionPage(u.id, sessionOf(u), query(firsts[i]!.page.cursorAt(1)), false),
      ),
    );
    nexts.forEach((p, i) => {
      expect(p!.page.rows.map((r) => [r.title, r.owner.id])).toEqual([
        [`${users[i]!.email} task 1`, users[i]!.id],
      ]);
      expect(p!.page.hasNextPage).toBe(false);
    });
  });
});

describe('API key checks made in one turn', () => {
  const CREATE = `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret apiKey { id } } }`;
  let keys: { user: SeededUser; id: string; secret: string; prefix: string }[];
  let revoked: { id: string; secret: string; prefix: string };

  beforeAll(async () => {
    const create = async (user: SeededUser, name: string) => {
      const { secret, apiKey } = expectNoErrors(
        await t.gql(CREATE, { i: { name, scopes: ['TASKS_READ'] } }, user.accessToken),
      ).createApiKey;
      return {
        id: apiKey.id as string,
        secret: secret as string,
        prefix: parseApiKey(secret)!.prefix,
      };
    };
    keys = [];
    for (const user of users.slice(0, 6)) keys.push({ user, ...(await create(user, 'batch')) });
    revoked = await create(users[6]!, 'revoked');
    await t.sql(`update api_keys set revoked_at = now() where id = ?`, [revoked.id]);
  });

  it('go as one statement, each answered with its own key and owner, as the statement alone answers', async () => {
    const repo = t.app.orm.em.fork().getRepository(ApiKey);
    const prefixes = [...keys.map((k) => k.prefix), revoked.prefix, 'nosuchprefix'];
    let answers: Awaited<ReturnType<typeof repo.activeByPrefix>>[] = [];
    const sql = await t.countQueries(async () => {
      answers = await Promise.all(prefixes.map((p) => repo.activeByPrefix(p)));
    });
    expect(answers.map((a) => a && { key: a.id, owner: a.account.id })).toEqual([
      ...keys.map((k) => ({ key: k.id, owner: k.user.id })),
      null,
      null,
    ]);
    // The same answers, every field, as the statement sent as text.
    const asText = [];
    for (const p of prefixes) asText.push(await repo.activeByPrefix(p, true));
    expect(answers).toEqual(asText);
    expect(answers[0]!.scopes).toEqual(['TASKS_READ']);
    expect(sql).toHaveLength(coalesces ? 1 : prefixes.length);
    if (coalesces) expect(sql[0]).toMatch(/\bunnest\(.*api_key_account\(/s);
  });

  it('through the API, concurrent requests with keys each act as their own key’s owner; a revoked key among them is refused alone', async () => {
    const callers = [
      ...keys.slice(0, 3).map((k) => k.secret),
      revoked.secret,
      ...keys.slice(3).map((k) => k.secret),
    ];
    const owners = [
      ...keys.slice(0, 3).map((k) => k.user.id),
      null,
      ...keys.slice(3).map((k) => k.user.id),
    ];
    const { results, sql } = await concurrently(() =>
      callers.map((secret) => t.gql(`{ me { id } }`, {}, secret)),
    );
    results.forEach((res, i) => {
      if (owners[i] === null) expectErrorCode(res, 'UNAUTHENTICATED');
      else expect(expectNoErrors(res).me.id).toBe(owners[i]);
    });
    if (coalesces)
      expect(sql.some((s) => TOGETHER.test(s) && s.includes('api_key_account('))).toBe(true);
  });
});

/** Sends every request at once, each on its own connection; retried until a round coalesced. */
async function concurrently<T>(
  send: () => Promise<T>[],
): Promise<{ results: T[]; sql: string[]; rounds: number }> {
  let last: { results: T[]; sql: string[]; rounds: number } | undefined;
  for (let round = 1; round <= 5; round += 1) {
    let results: T[] = [];
    const sql = await t.countQueries(async () => {
      results = await Promise.all(send());
    });
    last = { results, sql, rounds: round };
    if (!coalesces || sql.some((s) => TOGETHER.test(s))) return last;
  }
  return last!;
}

describe('through the API, concurrent requests', () => {
  const PAGE = `query Page($after: String) {
    tasks(first: 2, after: $after) {
      nodes { id title owner { id email } }
      pageInfo { hasNextPage endCursor }
    }
  }`;

  it('each get their own tasks pages, first and next, as alone', async () => {
    // Alone first: what each user's two pages are.
    const alone: { first: unknown; next: unknown }[] = [];
    for (const u of users) {
      const first = expectNoErrors(await t.gql(PAGE, {}, u.accessToken));
      const next = expectNoErrors(
        await t.gql(PAGE, { after: first.tasks.pageInfo.endCursor }, u.accessToken),
      );
      alone.push({ first, next });
    }
    const firsts = await concurrently(() => users.map((u) => t.gql(PAGE, {}, u.accessToken)));
    const firstData = firsts.results.map((r) => expectNoErrors(r));
    expect(firstData).toEqual(alone.map((a) => a.first));
    for (const [i, data] of firstData.entries()) {
      expect(data.tasks.nodes).toHaveLength(2);
      for (const node of data.tasks.nodes) {
        expect(node.owner).toEqual({ id: users[i]!.id, email: users[i]!.email });
        expect(node.title.startsWith(`${users[i]!.email} task`)).toBe(true);
      }
    }
    const nexts = await concurrently(() =>
      users.map((u, i) =>
        t.gql(PAGE, { after: firstData[i]!.tasks.pageInfo.endCursor }, u.accessToken),
      ),
    );
    expect(nexts.results.map((r) => expectNoErrors(r))).toEqual(alone.map((a) => a.next));
    if (coalesces) {
      expect(firsts.sql.some((s) => TOGETHER.test(s) && s.includes('session_tasks_page'))).toBe(
        true,
      );
      expect(firsts.sql.length).toBeLessThan(users.length);
    }
  });

  it('each get their own account from `me`; a revoked session among them is refused alone', async () => {
    const gone = await t.seed.user({ name: 'gone' });
    await t.sql(`update auth_sessions set revoked_at = now() where id = ?`, [sessionOf(gone)]);
    const callers = [...users.slice(0, 6), gone, ...users.slice(6)];
    const { results, sql } = await concurrently(() =>
      callers.map((u) => t.gql(`{ me { id email name } }`, {}, u.accessToken)),
    );
    results.forEach((res, i) => {
      if (callers[i] === gone) expectErrorCode(res, 'UNAUTHENTICATED');
      else
        expect(expectNoErrors(res).me).toEqual({
          id: callers[i]!.id,
          email: callers[i]!.email,
          name: callers[i]!.name,
        });
    });
    if (coalesces) expect(sql.some((s) => TOGETHER.test(s))).toBe(true);
  });
});
