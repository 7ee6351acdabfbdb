import jwt from 'jsonwebtoken';
import type { FastifyRequest } from 'fastify';
import { sessionCheckCanRide } from '../../src/http/session-deferral';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, type GraphQLResponse } from '../helpers/graphql';
import { LogoutDocument } from '../helpers/graphql-types';
import { unique, type SeededUser } from '../helpers/seed';
import { createTasks, FAST_HASHING } from './task-fixtures';

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
    expect(sql[0]).toMatch(/auth_sessions/);
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
        query: { query: `{ tasks { totalCount } }` },
      } as unknown as FastifyRequest),
    ).toBe(true);
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
