import { startTestApp, type TestApp } from '../helpers/create-test-app';
import type { SeededUser } from '../helpers/seed';

/**
 * The known-document lane (src/http/known-documents.ts) answers what Apollo answers. Two
 * servers on one database: one sends every request through Apollo (QUERY_KNOWN_DOCUMENTS off),
 * the other answers a document it has seen validated without Apollo's pipeline. Each request is
 * sent twice to each: the second answer of the lane server, which the lane gave (its counter
 * says so), must equal the second answer of the Apollo server: status, content type,
 * Retry-After and body (but for each server's own cost bucket level).
 */
describe('known-document lane', () => {
  let viaApollo: TestApp;
  let viaLane: TestApp;
  let user: SeededUser;
  let admin: SeededUser;
  // A clock that turns invalid on demand makes the next write fail inside the database driver
  // with an error that has no extensions of its own (INTERNAL_SERVER_ERROR, logged).
  let broken = false;
  const clock = { now: () => (broken ? new Date(Number.NaN) : new Date()) };
  // Small enough that a page of 20 tasks with owners is over it.
  const limits = { queryMaxCost: 100 };

  beforeAll(async () => {
    viaApollo = await startTestApp({ ...limits, queryKnownDocuments: false }, { clock });
    viaLane = await startTestApp({ ...limits, queryKnownDocuments: true }, { clock });
    user = await viaLane.seed.user({ plan: 'PRO' });
    admin = await viaLane.seed.admin();
    await viaLane.seed.task(user, { title: 'alpha report', priority: 'HIGH' });
    await viaLane.seed.task(user, { title: 'beta', dueDate: '2030-01-02T03:04:05.678Z' });
  });

  afterAll(async () => {
    await viaApollo?.close();
    await viaLane?.close();
  });

  interface Sent {
    body?: unknown;
    token?: string | null;
    headers?: Record<string, string>;
    method?: 'GET' | 'POST';
    search?: string;
  }

  async function send(app: TestApp, sent: Sent) {
    const token = sent.token === undefined ? user.accessToken : sent.token;
    const res = await fetch(`${app.url}/graphql${sent.search ?? ''}`, {
      method: sent.method ?? 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...sent.headers,
      },
      ...(sent.method === 'GET' ? {} : { body: JSON.stringify(sent.body) }),
    });
    const text = await res.text();
    const json = JSON.parse(text) as {
      extensions?: { cost?: { throttleStatus?: { currentlyAvailable?: number } } };
    };
    // Each server has its own bucket: its level is the one thing that may differ.
    if (json.extensions?.cost?.throttleStatus) {
      json.extensions.cost.throttleStatus.currentlyAvailable = -1;
    }
    return {
      status: res.status,
      contentType: res.headers.get('content-type'),
      retryAfter: res.headers.get('retry-after'),
      cacheControl: res.headers.get('cache-control'),
      // Key order included: the lane writes `errors`, `data`, `extensions` as Apollo does.
      body: JSON.stringify(json),
    };
  }

  async function laneAnswers(): Promise<number> {
    const text = await (await fetch(`${viaLane.url}/metrics`)).text();
    return Number(/^switchboard_graphql_known_document_requests_total (\d+)/m.exec(text)?.[1]);
  }

  /** Sends `sent` twice to each server; the lane's second answer against Apollo's. */
  async function compare(sent: Sent) {
    await send(viaApollo, sent);
    const apollo = await send(viaApollo, sent);
    await send(viaLane, sent);
    const before = await laneAnswers();
    const lane = await send(viaLane, sent);
    return { apollo, lane, byLane: (await laneAnswers()) - before };
  }

  const doc = (query: string, variables?: unknown, operationName?: string) => ({
    body: { query, variables, operationName },
  });

  const answeredAlike: [string, () => Sent][] = [
    [
      'a page of tasks with owners, fragments and aliases',
      () =>
        doc(`query Page { first: tasks(first: 2) { nodes { ...T owner { id email } }
            pageInfo { hasNextPage endCursor } } }
          fragment T on Task { id title status priority dueDate createdAt }`),
    ],
    ['the viewer', () => doc('{ me { id email name role createdAt } }')],
    [
      'variables, an enum and a default',
      () =>
        doc(
          'query S($s: String, $p: TaskPriority!, $n: Int = 3) { tasks(first: $n, filter: { search: $s, priority: [$p] }) { nodes { title } } }',
          { s: 'alpha', p: 'HIGH' },
        ),
    ],
    [
      'a variable that does not coerce (400)',
      () => doc('query($n: Int!) { tasks(first: $n) { nodes { id } } }', { n: 'x' }),
    ],
    [
      'a missing required variable (400)',
      () => doc('query M($n: Int!) { tasks(first: $n) { nodes { id } } }', {}),
    ],
    [
      'an argument the resolver refuses (coded error, data null)',
      () => doc('{ tasks(first: -1) { nodes { id } } }'),
    ],
    [
      'a task that does not exist',
      () =>
        doc('query($id: ID!) { task(id: $id) { id } }', {
          id: '00000000-0000-4000-8000-000000000000',
        }),
    ],
    [
      'a field the viewer may not read, beside one it may',
      () => doc('{ me { id } users(first: 1) { nodes { id } } }'),
    ],
    [
      'an admin reading users',
      // Filtered to this test's admin: other test files add users to the same database
      // between the two servers' answers.
      () => ({
        ...doc(
          'query($s: String!) { users(first: 2, filter: { search: $s }) { totalCount nodes { email } } }',
          { s: admin.email },
        ),
        token: admin.accessToken,
      }),
    ],
    ['no credentials', () => ({ ...doc('{ me { id } }'), token: null })],
    ['a token that does not verify', () => ({ ...doc('{ me { id } }'), token: 'not-a-token' })],
    [
      'over the per-document cost (QUERY_TOO_COMPLEX before anything runs)',
      () => doc('{ tasks(first: 20) { nodes { id owner { id email name } } } }'),
    ],
    [
      'one operation of several, by name',
      () => doc('query A { me { id } } query B { me { name } plans { tier } }', undefined, 'B'),
    ],
    [
      'a mutation refused for its input',
      () => doc('mutation($t: String!) { createTask(input: { title: $t }) { id } }', { t: '' }),
    ],
    [
      'an Accept header asking for application/graphql-response+json',
      () => ({
        ...doc('{ me { id } }'),
        headers: { accept: 'application/graphql-response+json, application/json;q=0.9' },
      }),
    ],
    [
      'a content type with its charset',
      () => ({
        ...doc('{ me { email } }'),
        headers: { 'content-type': 'application/json; charset=utf-8' },
      }),
    ],
  ];

  it.each(answeredAlike)('%s: the lane answers as Apollo does', async (_name, make) => {
    const { apollo, lane, byLane } = await compare(make());
    expect(byLane).toBe(1);
    expect(lane).toEqual(apollo);
  });

  it('answers a write that fails in the database driver as Apollo does (500, nothing leaks)', async () => {
    const sent = doc(
      'mutation($n: String!) { createApiKey(input: { name: $n, scopes: [TASKS_READ] }) { secret } }',
      {
        n: 'boom',
      },
    );
    // Learned first (a write that succeeds), then broken on both servers.
    await send(viaLane, sent);
    broken = true;
    try {
      const apollo = await send(viaApollo, sent);
      const before = await laneAnswers();
      const lane = await send(viaLane, sent);
      expect((await laneAnswers()) - before).toBe(1);
      expect(lane).toEqual(apollo);
      expect(JSON.parse(lane.body).errors[0].extensions.code).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      broken = false;
    }
  });

  it('runs a mutation through the lane once, with the same answer as Apollo', async () => {
    const sent = doc(
      'mutation($t: String!) { createTask(input: { title: $t }) { title status } }',
      {
        t: 'via both',
      },
    );
    const { apollo, lane, byLane } = await compare(sent);
    expect(byLane).toBe(1);
    expect(lane).toEqual(apollo);
    const [{ n }] = await viaLane.sql<{ n: string }>(
      `select count(*) as n from tasks where owner_id = ? and title = 'via both'`,
      [user.id],
    );
    // Two sends to each server, one task each.
    expect(Number(n)).toBe(4);
  });

  const neverByLane: [string, () => Sent][] = [
    ['a GET', () => ({ method: 'GET', search: `?query=${encodeURIComponent('{ me { id } }')}` })],
    ['a request with extensions', () => ({ body: { query: '{ me { id } }', extensions: {} } })],
    [
      'an operation name the document does not have',
      () => doc('query A { me { id } }', undefined, 'Nope'),
    ],
    ['several operations and no name', () => doc('query A { me { id } } query B { me { name } }')],
    ['a document that does not validate', () => doc('{ me { nope } }')],
    [
      'an Accept header that takes no JSON (406)',
      () => ({ ...doc('{ me { id } }'), headers: { accept: 'text/csv' } }),
    ],
    [
      'a text/plain body (CSRF prevention: Apollo refuses it)',
      () => ({ ...doc('{ me { id } }'), headers: { 'content-type': 'text/plain' } }),
    ],
  ];

  it.each(neverByLane)('%s: Apollo answers it, on both servers alike', async (_name, make) => {
    const { apollo, lane, byLane } = await compare(make());
    expect(byLane).toBe(0);
    expect(lane).toEqual(apollo);
  });

  it('keeps at most 400,000 characters of documents, forgetting the longest unused first', async () => {
    // 7,900 characters each (a comment makes the length; the operation is one field).
    const padded = (i: number) =>
      doc(`# ${String(i).padStart(4, '0')} ${'x'.repeat(7_880)}\n{ me { id } }`);
    const first = padded(0);
    await send(viaLane, first);
    let before = await laneAnswers();
    await send(viaLane, first);
    expect(await laneAnswers()).toBe(before + 1);
    // 60 more: 474,000 characters in all, past the bound.
    for (let i = 1; i <= 60; i += 1) await send(viaLane, padded(i));
    before = await laneAnswers();
    const again = await send(viaLane, first);
    expect(again.status).toBe(200);
    expect(await laneAnswers()).toBe(before);
    // The most recent ones are still known.
    await send(viaLane, padded(60));
    expect(await laneAnswers()).toBe(before + 1);
    // A document past 8,000 characters is never learned.
    const long = doc(`# ${'y'.repeat(8_100)}\n{ me { name } }`);
    await send(viaLane, long);
    before = await laneAnswers();
    await send(viaLane, long);
    expect(await laneAnswers()).toBe(before);
  });

  it('forgets nothing it should not: a document seen only invalid is never run by the lane', async () => {
    const invalid = doc('{ me { id secret } }');
    await send(viaLane, invalid);
    await send(viaLane, invalid);
    const before = await laneAnswers();
    const again = await send(viaLane, invalid);
    expect(await laneAnswers()).toBe(before);
    expect(again.status).toBe(400);
    expect(JSON.parse(again.body).errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });
});
