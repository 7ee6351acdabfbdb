import { request } from 'node:http';
import jwt from 'jsonwebtoken';
import type { FastifyRequest } from 'fastify';
import { parse, type FieldNode, type OperationDefinitionNode, type SelectionNode } from 'graphql';
import { isUnverified, unverifiedViewer } from '../../src/auth/session-check';
import { INVALID_CREDENTIALS } from '../../src/auth/viewer';
import type { Context } from '../../src/context';
import { sessionCheckCanRide, sessionCheckPlugin } from '../../src/http/session-deferral';
import { createLoaders } from '../../src/loaders';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, type GraphQLResponse } from '../helpers/graphql';
import { LoginTokensDocument, LogoutDocument } from '../helpers/graphql-types';
import { unique, type SeededUser } from '../helpers/seed';
import { createTasks, FAST_HASHING } from './task-fixtures';
import { decodeKeysetCursor, keysetPageUnder } from '../../src/db/keyset';
import { SqlFilter } from '../../src/db/sql-filter';
import { Task, User } from '../../src/entities';
import {
  DEFAULT_TASK_ORDER,
  keysetOrder,
  sessionTasksPageCall,
  SLIM_TASK_FIELDS,
} from '../../src/entities/task.repository';
import { rowFieldsWithin } from '../../src/lib/selection';
import { activeBySessionHead } from '../../src/entities/user.repository';

/**
 * A document whose only root field is `tasks` checks the access token's session in the page's
 * own statement (src/auth/session-check.ts): one statement a request instead of two. These
 * tests hold it to what the up-front check guarantees: a gone session, a deactivated account or
 * a token naming someone else's session reads nothing and answers UNAUTHENTICATED, whatever
 * the document asks for and however its arguments are wrong.
 */
const PAGE = `{ tasks(first: 5) { totalCount nodes { id title owner { id email name } } } }`;
const SECRET = 'test-secret-0123456789-abcdefghijklmnop';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp(FAST_HASHING);
});
afterAll(() => t.close());

async function statements(
  query: string,
  token: string,
  variables: Record<string, unknown> = {},
): Promise<{ sql: string[]; res: GraphQLResponse }> {
  let res: GraphQLResponse | undefined;
  const sql = await t.countQueries(async () => {
    res = await t.gql(query, variables, token);
  });
  return { sql, res: res! };
}

/** Refused as the up-front check refuses (`me`): same code and message, no data, no rows read. */
async function expectRefusedLikeUpFront(query: string, token: string, vars = {}) {
  const upFront = expectErrorCode(await t.gql(`{ me { id } }`, {}, token), 'UNAUTHENTICATED');
  const { sql, res } = await statements(query, token, vars);
  const err = expectErrorCode(res, 'UNAUTHENTICATED');
  expect(err.message).toBe(upFront.message);
  expect(res.data ?? null).toBeNull();
  expect(JSON.stringify(res)).not.toContain('"nodes"');
  // Only the check (with the page under it, read for a live session only) or the check alone.
  expect(sql.length).toBeLessThanOrEqual(1);
  return res;
}

describe('the tasks page with the session check in its statement', () => {
  let u: SeededUser;
  beforeAll(async () => {
    u = await t.seed.user();
    await createTasks(t, u, [{ title: 'one' }, { title: 'two' }, { title: 'three' }]);
  });

  it('costs one statement, and serves the owner from the account it read', async () => {
    const { sql, res } = await statements(
      `{ tasks(first: 5) { nodes { id owner { id email name } } } }`,
      u.accessToken,
    );
    const data = expectNoErrors(res) as {
      tasks: { nodes: { owner: { id: string; email: string; name: string } }[] };
    };
    expect(data.tasks.nodes).toHaveLength(3);
    for (const node of data.tasks.nodes) {
      expect(node.owner).toEqual({ id: u.id, email: u.email, name: u.name });
    }
    expect(sql).toHaveLength(1);
    // The default page (newest first, no filter) through its function, with its kept plan;
    // asking only what a task list shows, through the function that sends only that.
    expect(sql[0]).toMatch(/^select \* from session_tasks_page_slim\(/);
    // Any other order or a filter: the same check and page, built as text.
    const other = await statements(
      `{ tasks(first: 5, orderBy: { field: PRIORITY, direction: ASC }) { nodes { id } } }`,
      u.accessToken,
    );
    expectNoErrors(other.res);
    expect(other.sql).toHaveLength(1);
    expect(other.sql[0]).toMatch(/auth_sessions/);
  });

  it('answers an empty page for a user without tasks (the account still read)', async () => {
    const empty = await t.seed.user();
    const { sql, res } = await statements(
      `{ tasks { totalCount nodes { id } pageInfo { hasNextPage } } }`,
      empty.accessToken,
    );
    expect(expectNoErrors(res)).toEqual({
      tasks: { totalCount: 0, nodes: [], pageInfo: { hasNextPage: false } },
    });
    expect(sql).toHaveLength(2); // the page under the check, the count
  });

  it('pages on with its cursor and keeps other orders and filters', async () => {
    const first = expectNoErrors(
      await t.gql(
        `{ tasks(first: 2) { nodes { title } pageInfo { endCursor } } }`,
        {},
        u.accessToken,
      ),
    ) as { tasks: { nodes: { title: string }[]; pageInfo: { endCursor: string } } };
    expect(first.tasks.nodes.map((n) => n.title)).toEqual(['three', 'two']);
    const next = expectNoErrors(
      await t.gql(
        `query($a: String) { tasks(first: 2, after: $a) { nodes { title } } }`,
        { a: first.tasks.pageInfo.endCursor },
        u.accessToken,
      ),
    ) as { tasks: { nodes: { title: string }[] } };
    expect(next.tasks.nodes.map((n) => n.title)).toEqual(['one']);
    const filtered = expectNoErrors(
      await t.gql(
        `{ tasks(filter: { search: "tw" }, orderBy: { field: PRIORITY, direction: ASC }) { nodes { title } } }`,
        {},
        u.accessToken,
      ),
    ) as { tasks: { nodes: { title: string }[] } };
    expect(filtered.tasks.nodes.map((n) => n.title)).toEqual(['two']);
  });

  it('checks the session up front when the document asks for anything else at the root', async () => {
    const { sql, res } = await statements(
      `{ me { id } tasks(first: 5) { nodes { id } } }`,
      u.accessToken,
    );
    expectNoErrors(res);
    expect(sql).toHaveLength(2);
  });

  it('a logged-out session reads nothing: UNAUTHENTICATED, as up front', async () => {
    const v = await t.seed.user();
    await createTasks(t, v, [{ title: unique('secret') }]);
    expectNoErrors(await t.gql(LogoutDocument, { t: v.refreshToken }, v.accessToken));
    await expectRefusedLikeUpFront(PAGE, v.accessToken);
    // Asking only for the count (no page selected) is refused the same way.
    await expectRefusedLikeUpFront(`{ tasks { totalCount } }`, v.accessToken);
    await expectRefusedLikeUpFront(
      `{ __typename tasks { pageInfo { hasNextPage } } }`,
      v.accessToken,
    );
  });

  it('a deactivated account reads nothing, even with its session still open', async () => {
    const v = await t.seed.user();
    await createTasks(t, v, [{ title: unique('secret') }]);
    expectNoErrors(await t.gql(PAGE, {}, v.accessToken));
    // Behind the API's back: the session stays, only the account is inactive.
    await t.sql(`update users set is_active = false where id = ?`, [v.id]);
    try {
      await expectRefusedLikeUpFront(PAGE, v.accessToken);
    } finally {
      await t.sql(`update users set is_active = true where id = ?`, [v.id]);
    }
    expectNoErrors(await t.gql(PAGE, {}, v.accessToken));
  });

  it('a token that pairs one user with another user’s session reads nothing', async () => {
    const [a, b] = await Promise.all([t.seed.user(), t.seed.user()]);
    await createTasks(t, a, [{ title: unique('a-secret') }]);
    await createTasks(t, b, [{ title: unique('b-secret') }]);
    const sidOfB = (jwt.decode(b.accessToken) as { sid: string }).sid;
    const now = Math.floor(Date.now() / 1000);
    // Signed with the server's key: only the pairing is wrong.
    const forged = jwt.sign({ sid: sidOfB, iat: now, exp: now + 60 }, SECRET, {
      algorithm: 'HS256',
      subject: a.id,
      issuer: 'switchboard',
      audience: 'switchboard-api',
    });
    await expectRefusedLikeUpFront(PAGE, forged);
  });

  it('a gone session answers UNAUTHENTICATED before any argument error; a live one gets the argument error', async () => {
    const v = await t.seed.user();
    const bad: [string, Record<string, unknown>][] = [
      [`{ tasks(first: 0) { nodes { id } } }`, {}], // refused by the service
      [`{ tasks(after: "not-a-cursor") { nodes { id } } }`, {}], // refused by the service
      [`query($s: String) { tasks(filter: { search: $s }) { nodes { id } } }`, { s: 'x\u0000' }], // by validation
    ];
    for (const [query, vars] of bad) {
      expectErrorCode(await t.gql(query, vars, v.accessToken), 'BAD_USER_INPUT');
    }
    expectNoErrors(await t.gql(LogoutDocument, { t: v.refreshToken }, v.accessToken));
    for (const [query, vars] of bad) await expectRefusedLikeUpFront(query, v.accessToken, vars);
  });

  it('API keys keep their own lookup (the key, then the page)', async () => {
    const key = await t.seed.apiKey(u, ['TASKS_READ']);
    const { sql, res } = await statements(`{ tasks(first: 5) { nodes { id } } }`, key.secret);
    expect((expectNoErrors(res) as { tasks: { nodes: unknown[] } }).tasks.nodes).toHaveLength(3);
    expect(sql.length).toBeGreaterThanOrEqual(2);
  });
});

/** A GET as sent on the wire, path and query string byte for byte (fetch would drop a `#`). */
function rawGet(url: string, path: string, token: string): Promise<GraphQLResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname,
        port,
        path,
        method: 'GET',
        headers: { authorization: `Bearer ${token}`, 'apollo-require-preflight': '1' },
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode, ...JSON.parse(body) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('session_tasks_page, the default page kept in the database', () => {
  /** The page as the function reads it, and as the statement built as text reads it. */
  async function bothWays(userId: string, sessionId: string, first: number, after?: string) {
    const em = t.app.orm.em.fork();
    const order = keysetOrder(DEFAULT_TASK_ORDER);
    const q = { table: 'tasks', filter: new SqlFilter(), order, first, after };
    const cursor = decodeKeysetCursor(order, after);
    const read = (kept: boolean, slim = false) =>
      keysetPageUnder(
        em,
        Task,
        q,
        'owner_id',
        activeBySessionHead(userId, sessionId),
        kept ? sessionTasksPageCall(userId, sessionId, first, cursor, slim) : undefined,
      );
    const shape = (r: Awaited<ReturnType<typeof read>>) =>
      r && {
        head: r.head,
        rows: r.page.rows,
        cursors: r.page.rows.map((_, i) => r.page.cursorAt(i)),
        hasNextPage: r.page.hasNextPage,
      };
    const text = shape(await read(false));
    // The slim function: the same, but for the columns it does not send (null on its rows).
    const slim = shape(await read(true, true));
    const unsent = { description: null, completedAt: null, updatedAt: null };
    expect(slim).toEqual(text && { ...text, rows: text.rows.map((r) => ({ ...r, ...unsent })) });
    return { kept: shape(await read(true)), text };
  }

  function claimsOf(token: string) {
    return jwt.decode(token) as { sub: string; sid: string };
  }

  it('answers what the statement built as text answers: the account, every page, the cursors', async () => {
    const v = await t.seed.user();
    // Ties on created_at are ordered by id, as the text statement orders them.
    await createTasks(
      t,
      v,
      Array.from({ length: 7 }, (_, i) => ({ title: `p${i}` })),
    );
    const { sub, sid } = claimsOf(v.accessToken);
    let after: string | undefined;
    const seen: string[] = [];
    for (let page = 0; page < 4; page += 1) {
      const { kept, text } = await bothWays(sub, sid, 3, after);
      expect(kept).toEqual(text);
      expect(kept!.head).toMatchObject({ id: v.id, email: v.email, name: v.name, is_active: true });
      seen.push(...kept!.rows.map((row) => row.title));
      if (!kept!.hasNextPage) break;
      after = kept!.cursors[kept!.cursors.length - 1];
    }
    expect(seen.sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
  });

  it('reads nothing for a gone session, a deactivated account or another user’s session', async () => {
    const v = await t.seed.user();
    const w = await t.seed.user();
    await createTasks(t, v, [{ title: 'kept' }]);
    const vc = claimsOf(v.accessToken);
    const wc = claimsOf(w.accessToken);
    // Someone else's session with this user's id, and the other way round.
    expect(await bothWays(vc.sub, wc.sid, 5)).toEqual({ kept: null, text: null });
    expect(await bothWays(wc.sub, vc.sid, 5)).toEqual({ kept: null, text: null });
    expectNoErrors(await t.gql(LogoutDocument, { t: v.refreshToken }, v.accessToken));
    expect(await bothWays(vc.sub, vc.sid, 5)).toEqual({ kept: null, text: null });
    const x = await t.seed.user();
    await createTasks(t, x, [{ title: 'hidden' }]);
    const xc = claimsOf(x.accessToken);
    await t.sql('update users set is_active = false where id = ?', [x.id]);
    expect(await bothWays(xc.sub, xc.sid, 5)).toEqual({ kept: null, text: null });
  });
});

describe('session_tasks_page_slim: only the columns a task list shows', () => {
  const ALL = `id title description status priority dueDate completedAt createdAt updatedAt owner { id email }`;
  let u: SeededUser;
  beforeAll(async () => {
    u = await t.seed.user();
    await createTasks(t, u, [
      { title: 'a', description: 'first words' },
      { title: 'b', description: 'second words' },
      { title: 'c' },
    ]);
    // Task c done (completedAt set) and with a due date, so that every column has a value on
    // some task. Found by title: tasks made in one mutation can share createdAt.
    const all = expectNoErrors(
      await t.gql(`{ tasks(first: 3) { nodes { id title } } }`, {}, u.accessToken),
    ) as { tasks: { nodes: { id: string; title: string }[] } };
    expectNoErrors(
      await t.gql(
        `mutation($id: ID!) { updateTask(id: $id, input: { status: DONE, dueDate: "2030-01-02T03:04:05.678Z" }) { id } }`,
        { id: all.tasks.nodes.find((n) => n.title === 'c')!.id },
        u.accessToken,
      ),
    );
  });

  /** The page's one statement and its answer. */
  async function page(fields: string, extra = '', first = 2) {
    const { sql, res } = await statements(
      `{ tasks(first: ${first}) { nodes { ${fields} } ${extra} } }`,
      u.accessToken,
    );
    return { sql, data: expectNoErrors(res) as { tasks: { nodes: Record<string, unknown>[] } } };
  }

  it('answers the fields it sends exactly as the full page does, cursors and fragments included', async () => {
    const full = await page(ALL, 'pageInfo { hasNextPage endCursor } edges { cursor }');
    expect(full.sql).toHaveLength(1);
    expect(full.sql[0]).toMatch(/^select \* from session_tasks_page\(/);
    const slimFields = `__typename id title status priority dueDate createdAt owner { id email name }`;
    const slim = await page(slimFields, 'pageInfo { hasNextPage endCursor } edges { cursor }');
    expect(slim.sql).toHaveLength(1);
    expect(slim.sql[0]).toMatch(/^select \* from session_tasks_page_slim\(/);
    const fullAgain = await page(
      `${slimFields} description`,
      'pageInfo { hasNextPage endCursor } edges { cursor }',
    );
    expect(fullAgain.sql[0]).toMatch(/^select \* from session_tasks_page\(/);
    const { description: _d, ...rest } = fullAgain.data.tasks.nodes[0]!;
    expect(slim.data.tasks.nodes[0]).toEqual(rest);
    expect(slim.data).toEqual({
      tasks: {
        ...fullAgain.data.tasks,
        nodes: fullAgain.data.tasks.nodes.map(({ description: _x, ...n }) => n),
      },
    });
    // The same fields asked through a named fragment and edges { node }: slim too.
    const viaFragment = await statements(
      `query { tasks(first: 2) { edges { node { ...T } } } } fragment T on Task { id title dueDate owner { id } }`,
      u.accessToken,
    );
    expect(viaFragment.sql[0]).toMatch(/^select \* from session_tasks_page_slim\(/);
    expect(expectNoErrors(viaFragment.res)).toEqual({
      tasks: {
        edges: slim.data.tasks.nodes.map((n) => ({
          node: { id: n.id, title: n.title, dueDate: n.dueDate, owner: { id: u.id } },
        })),
      },
    });
  });

  it('reads every column for any other task field, however it is asked', async () => {
    for (const [fields, column] of [
      ['id description', 'description'],
      ['id completedAt', 'completedAt'],
      ['id updatedAt', 'updatedAt'],
      ['... on Task { id completedAt }', 'completedAt'],
    ] as const) {
      // All three tasks, whatever order ties on createdAt give them.
      const { sql, data } = await page(fields, '', 3);
      expect(sql[0]).toMatch(/^select \* from session_tasks_page\(/);
      expect(data.tasks.nodes.some((n) => n[column] !== null)).toBe(true);
    }
    // A fragment that asks for a column the slim page lacks, beside slim fields.
    const viaFragment = await statements(
      `query { tasks(first: 3) { nodes { id ...D } } } fragment D on Task { description }`,
      u.accessToken,
    );
    expect(viaFragment.sql[0]).toMatch(/^select \* from session_tasks_page\(/);
    const nodes = (
      expectNoErrors(viaFragment.res) as { tasks: { nodes: { description: string | null }[] } }
    ).tasks.nodes;
    expect(nodes.map((n) => n.description ?? '(none)').sort()).toEqual([
      '(none)',
      'first words',
      'second words',
    ]);
  });

  it('remembers its choice per field node of a parsed document, and only for one node', () => {
    const document = parse(`{ tasks { nodes { id title } } }`);
    const field = (document.definitions[0] as OperationDefinitionNode).selectionSet
      .selections[0] as FieldNode;
    const info = (fieldNodes: FieldNode[]) => ({ fieldNodes, fragments: {} }) as never;
    expect(rowFieldsWithin(info([field]), SLIM_TASK_FIELDS)).toBe(true);
    // The same node with a field added after the first answer: answered from memory.
    const nodes = field.selectionSet!.selections[0] as FieldNode;
    (nodes.selectionSet!.selections as SelectionNode[]).push(
      (
        (parse(`{ description }`).definitions[0] as OperationDefinitionNode).selectionSet
          .selections as SelectionNode[]
      )[0]!,
    );
    expect(rowFieldsWithin(info([field]), SLIM_TASK_FIELDS)).toBe(true);
    // The same selection reached through two nodes (merged fields) is read each time.
    expect(rowFieldsWithin(info([field, field]), SLIM_TASK_FIELDS)).toBe(false);
    // Another set of allowed fields has its own memory.
    expect(rowFieldsWithin(info([field]), new Set(['id', 'title', 'description']))).toBe(true);
    expect(rowFieldsWithin(info([field]), new Set(['id', 'title']))).toBe(false);
  });

  it('reads nothing for a gone session, as the full page', async () => {
    const v = await t.seed.user();
    await createTasks(t, v, [{ title: 'kept' }]);
    expectNoErrors(await t.gql(LogoutDocument, { t: v.refreshToken }, v.accessToken));
    await expectRefusedLikeUpFront(`{ tasks { nodes { id title owner { id } } } }`, v.accessToken);
  });
});

describe('session_account, the up-front check kept in the database', () => {
  it('answers what the statement sent as text answers, for live, gone and borrowed sessions', async () => {
    const v = await t.seed.user();
    const w = await t.seed.user();
    const x = await t.seed.user();
    const [vc, wc, xc] = [v, w, x].map(
      (u) => jwt.decode(u.accessToken) as { sub: string; sid: string },
    );
    const users = t.app.orm.em.fork().getRepository(User);
    const bothWays = async (sub: string, sid: string) => {
      const kept = await users.activeBySession(sub, sid);
      expect(kept).toEqual(await users.activeBySession(sub, sid, true));
      return kept;
    };
    expect(await bothWays(vc!.sub, vc!.sid)).toMatchObject({
      id: v.id,
      email: v.email,
      name: v.name,
    });
    expect(await bothWays(vc!.sub, wc!.sid)).toBeNull();
    expectNoErrors(await t.gql(LogoutDocument, { t: w.refreshToken }, w.accessToken));
    expect(await bothWays(wc!.sub, wc!.sid)).toBeNull();
    await t.sql('update users set is_active = false where id = ?', [x.id]);
    expect(await bothWays(xc!.sub, xc!.sid)).toBeNull();
  });
});

describe('a request read two ways never skips the check', () => {
  let gone: SeededUser;
  beforeAll(async () => {
    gone = await t.seed.user();
    expectNoErrors(await t.gql(LogoutDocument, { t: gone.refreshToken }, gone.accessToken));
  });

  it('a GET whose query string a router would cut at `#` runs the document Apollo reads, checked', async () => {
    const hidden = encodeURIComponent(`{ me { email isActive } }`);
    const res = await rawGet(
      t.url,
      `/graphql#query={tasks{totalCount}}&x=?query=${hidden}`,
      gone.accessToken,
    );
    expectErrorCode(res, 'UNAUTHENTICATED');
    expect(res.data ?? null).toBeNull();
    expect(JSON.stringify(res)).not.toContain(gone.email);
  });

  it('a GET with a badly encoded value, read raw by one parser and decoded by another', async () => {
    const res = await rawGet(
      t.url,
      `/graphql?query={tasks(after:"%22)@skip(if:true){totalCount},me{email},apiKeys{id}}%23%ZZ"){totalCount}}`,
      gone.accessToken,
    );
    expect(res.errors?.length).toBeGreaterThan(0);
    expect(res.data ?? null).toBeNull();
    expect(JSON.stringify(res)).not.toContain(gone.email);
  });

  it('whatever the prediction said, an unverified viewer is checked before any other operation runs', async () => {
    const live = await t.seed.user();
    const sid = (token: string) => (jwt.decode(token) as { sid: string }).sid;
    const hook = (await sessionCheckPlugin().requestDidStart!({} as never))!.didResolveOperation!;
    const run = async (user: SeededUser, query: string) => {
      const em = t.app.orm.em.fork();
      const ctx = {
        em,
        viewer: unverifiedViewer(user.id, sid(user.accessToken)),
        loaders: createLoaders(em),
      } as unknown as Context;
      const operation = parse(query).definitions[0] as OperationDefinitionNode;
      await hook({ contextValue: ctx, operation } as never);
      return ctx.viewer;
    };
    // Another operation: checked now; a gone session becomes invalid credentials.
    expect(await run(gone, `{ me { email } }`)).toEqual(INVALID_CREDENTIALS);
    const verified = await run(live, `{ me { email } }`);
    expect(verified).toMatchObject({ kind: 'user', account: { id: live.id, email: live.email } });
    expect(isUnverified(verified)).toBe(false);
    // The one `tasks` root field: left to the page's statement.
    expect(isUnverified(await run(gone, `{ tasks { totalCount } }`))).toBe(true);
  });
});

describe('query cost of a gone session whose check rode on the page', () => {
  let c: TestApp;
  beforeAll(async () => {
    // Buckets in this process (no Redis: the address's bucket is this app's alone), small and
    // slow to refill, so that what each bucket was charged shows.
    c = await startTestApp({
      ...FAST_HASHING,
      redisUrl: undefined,
      queryMaxCost: 1_000,
      costBucketSize: 1_000,
      costRestoreRate: 1,
    });
  });
  afterAll(() => c.close());

  it('is paid from the address’s bucket and reports it, as up front: never RATE_LIMITED by the account’s', async () => {
    const u = await c.seed.user();
    const other = expectNoErrors(
      await c.gql(LoginTokensDocument, { i: { email: u.email, password: u.password } }),
    ).login;
    // Behind the API (creating them through it would spend the small budget).
    await c.sql(
      `insert into tasks (id, owner_id, title, created_at, updated_at)
       select gen_random_uuid(), ?, 't' || g, now() - g * interval '1 second', now()
         from generate_series(1, 100) g`,
      [u.id],
    );
    const page = `{ tasks(first: 100) { nodes { id title } } }`; // 1 + 100 x 3 = 301
    // The account's bucket nearly spent by its live session: 3 full pages.
    let userAvailable = 1_000;
    for (let i = 0; i < 3; i += 1) {
      const res = await c.gql(page, {}, other.accessToken);
      expectNoErrors(res);
      userAvailable = res.extensions?.cost.throttleStatus.currentlyAvailable;
    }
    expect(userAvailable).toBeLessThan(301);
    // The logged-out session asks for the same page: its check rides on it.
    expectNoErrors(await c.gql(LogoutDocument, { t: u.refreshToken }, u.accessToken));
    const res = await c.gql(page, {}, u.accessToken);
    expectErrorCode(res, 'UNAUTHENTICATED');
    expect(res.data ?? null).toBeNull();
    // The address's bucket, untouched by the account's spending, is the one reported.
    expect(res.extensions?.cost.throttleStatus.currentlyAvailable).toBeGreaterThan(600);
    // And the account's bucket was given back what the refused request took.
    const after = await c.gql(`{ tasks(first: 1) { nodes { id } } }`, {}, other.accessToken);
    expect(after.extensions?.cost.throttleStatus.currentlyAvailable).toBeGreaterThanOrEqual(
      userAvailable - 10, // this query (3) and the logout (1), not a page of 301
    );
  });
});

describe('which documents the session check rides on', () => {
  const post = (body: unknown) => ({ method: 'POST', body, query: {} }) as FastifyRequest;
  const rides = (query: string, operationName?: string) =>
    sessionCheckCanRide(post({ query, operationName }));

  it('one `tasks` root field (aliased, with __typename beside it), in the operation that runs', () => {
    expect(rides(`{ tasks { nodes { id } } }`)).toBe(true);
    expect(rides(`query Page { mine: tasks(first: 3) { totalCount } __typename }`)).toBe(true);
    expect(rides(`query A { me { id } } query B { tasks { totalCount } }`, 'B')).toBe(true);
    expect(
      sessionCheckCanRide({
        method: 'GET',
        url: `/graphql?query=${encodeURIComponent('{ tasks { totalCount } }')}`,
      } as unknown as FastifyRequest),
    ).toBe(true);
  });

  it('keeps answering right past its memory: many documents, many and long operation names', () => {
    const long = `Q${'x'.repeat(300)}`;
    const twoOps = `query ${long} { tasks { totalCount } } query B { me { id } }`;
    for (let round = 0; round < 2; round += 1) {
      expect(rides(twoOps, long)).toBe(true);
      expect(rides(twoOps, 'B')).toBe(false);
    }
    // Over a thousand other documents (more than it remembers) and back: the same verdicts.
    for (let i = 0; i < 1_200; i += 1) {
      expect(rides(`query P${i} { tasks { totalCount } }`)).toBe(true);
      expect(rides(`query M${i} { me { id } }`, `M${i}`)).toBe(false);
    }
    // Twenty names of one document (more than it keeps a document): each answered as it should.
    const many = Array.from(
      { length: 20 },
      (_, i) => `query N${i} { ${i % 2 ? 'me { id }' : 'tasks { totalCount }'} }`,
    ).join(' ');
    for (let i = 0; i < 20; i += 1) expect(rides(many, `N${i}`)).toBe(i % 2 === 0);
    expect(rides(twoOps, long)).toBe(true);
    expect(rides(`{ tasks { nodes { id } } }`)).toBe(true);
  });

  it('nothing else', () => {
    expect(rides(`{ me { id } tasks { totalCount } }`)).toBe(false);
    expect(rides(`{ a: tasks { totalCount } b: tasks { totalCount } }`)).toBe(false);
    expect(rides(`{ tasks @include(if: true) { totalCount } }`)).toBe(false);
    expect(rides(`query @skip(if: false) { tasks { totalCount } }`)).toBe(false);
    expect(rides(`{ ...F } fragment F on Query { tasks { totalCount } }`)).toBe(false);
    expect(rides(`{ ... on Query { tasks { totalCount } } }`)).toBe(false);
    expect(rides(`mutation { tasks }`)).toBe(false);
    expect(rides(`query A { me { id } } query B { tasks { totalCount } }`, 'A')).toBe(false);
    expect(rides(`query A { tasks { totalCount } } query B { tasks { totalCount } }`)).toBe(false);
    expect(rides(`{ tasks { totalCount }`)).toBe(false); // does not parse
    expect(rides(`{ tasks { totalCount } }${' '.repeat(2_000)}`)).toBe(false); // too long
    expect(sessionCheckCanRide(post([{ query: `{ tasks { totalCount } }` }]))).toBe(false);
    expect(sessionCheckCanRide(post({ query: `{ tasks { totalCount } }`, operationName: 3 }))).toBe(
      false,
    );
  });
});
