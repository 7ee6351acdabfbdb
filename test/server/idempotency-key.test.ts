import { Client } from 'pg';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, gql } from '../helpers/graphql';
import { unique } from '../helpers/seed';
import { startTcpProxy } from '../helpers/tcp-proxy';
import { createTool, INVOKE, sendJson, startUpstream } from '../tools/fake-upstream';

const describePg = process.env.DATABASE_URL ? describe : describe.skip; // PGlite: no partition

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const CREATE = `mutation($i: CreateTaskInput!) { createTask(input: $i) { id title } }`;

/** POSTs with an Idempotency-Key header. */
const send = (
  app: TestApp,
  key: string,
  query: string,
  variables: Record<string, unknown>,
  token?: string,
) => gql<any>(app.url, query, variables, token, { 'idempotency-key': key });

async function countTasks(token: string, title: string): Promise<number> {
  return expectNoErrors(
    await t.gql(
      `query($s: String) { tasks(first: 100, filter: { search: $s }) { totalCount } }`,
      { s: title },
      token,
    ),
  ).tasks.totalCount;
}

describe('Idempotency-Key on mutations', () => {
  it('replays the stored answer to a retry from the same caller with the same body, writing once', async () => {
    const user = await t.seed.user();
    const title = unique('once');
    const first = await send(t, 'k-1', CREATE, { i: { title } }, user.accessToken);
    const again = await send(t, 'k-1', CREATE, { i: { title } }, user.accessToken);
    expect(expectNoErrors(again).createTask).toEqual(expectNoErrors(first).createTask);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(await countTasks(user.accessToken, title)).toBe(1);
  });

  it('refuses the same key with another body as CONFLICT, and scopes keys to their caller', async () => {
    const user = await t.seed.user();
    const other = await t.seed.user();
    const title = unique('scoped');
    expectNoErrors(await send(t, 'k-2', CREATE, { i: { title } }, user.accessToken));
    const conflict = await send(t, 'k-2', CREATE, { i: { title: `${title}-b` } }, user.accessToken);
    expectErrorCode(conflict, 'CONFLICT');
    expect(conflict.status).toBe(409);
    expect(await countTasks(user.accessToken, `${title}-b`)).toBe(0);
    // Another user's same key is another request.
    expectNoErrors(await send(t, 'k-2', CREATE, { i: { title } }, other.accessToken));
    expect(await countTasks(other.accessToken, title)).toBe(1);
  });

  it('runs concurrent duplicates once: they wait for the first and get its answer', async () => {
    const user = await t.seed.user();
    const title = unique('concurrent');
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => send(t, 'k-3', CREATE, { i: { title } }, user.accessToken)),
    );
    const ids = answers.map((r) => expectNoErrors(r).createTask.id);
    expect(new Set(ids).size).toBe(1);
    expect(answers.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(4);
    expect(await countTasks(user.accessToken, title)).toBe(1);
  });

  it('makes register safe to retry: one account, the same answer', async () => {
    const email = `${unique()}@example.com`;
    const REGISTER = `mutation($i: RegisterInput!) { register(input: $i) { user { id email } } }`;
    const input = { i: { email, password: 'correct-horse-battery', name: 'Retry' } };
    const first = await send(t, 'signup-1', REGISTER, input);
    const again = await send(t, 'signup-1', REGISTER, input);
    expect(expectNoErrors(again).register.user).toEqual(expectNoErrors(first).register.user);
    // Without the header, the same registration is a conflict: the account exists once.
    expectErrorCode(await t.gql(REGISTER, input), 'CONFLICT');
  });

  it('refuses a malformed key before anything runs, and leaves queries alone', async () => {
    const user = await t.seed.user();
    const title = unique('badkey');
    const bad = await send(t, 'x'.repeat(201), CREATE, { i: { title } }, user.accessToken);
    const err = expectErrorCode(bad, 'BAD_USER_INPUT');
    expect(err.extensions?.fields).toEqual(['Idempotency-Key']);
    expect(bad.status).toBe(400);
    expect(await countTasks(user.accessToken, title)).toBe(0);
    const query = await send(t, 'q-1', `{ me { id } }`, {}, user.accessToken);
    expect(expectNoErrors(query).me.id).toBe(user.id);
    expect(query.headers.get('idempotent-replayed')).toBeNull();
  });

  it('stands in for invokeTool’s idempotencyKey: the tool runs once', async () => {
    const up = await startUpstream((_req, res) => sendJson(res, 200, { output: { ok: true } }));
    try {
      const admin = await t.seed.admin();
      const tool = await createTool(t, admin.accessToken, { endpointUrl: up.url });
      const user = await t.seed.user();
      const vars = { slug: tool.slug, input: { q: 1 } };
      const first = expectNoErrors(await send(t, 'tool-1', INVOKE, vars, user.accessToken));
      const again = expectNoErrors(await send(t, 'tool-1', INVOKE, vars, user.accessToken));
      expect(up.requests).toHaveLength(1);
      expect(again.invokeTool.replayed).toBe(true);
      expect(again.invokeTool.usage.id).toBe(first.invokeTool.usage.id);
    } finally {
      await up.close();
    }
  });

  it('replays nothing to a credential that is no longer good: signed out, or a revoked API key', async () => {
    const user = await t.seed.user();
    const title = unique('gone');
    const first = await send(t, 'k-gone', CREATE, { i: { title } }, user.accessToken);
    expectNoErrors(first);
    expectNoErrors(await t.gql(`mutation { logoutAll }`, {}, user.accessToken));
    const retry = await send(t, 'k-gone', CREATE, { i: { title } }, user.accessToken);
    expectErrorCode(retry, 'UNAUTHENTICATED');
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(JSON.stringify(retry.data ?? null)).not.toContain(first.data.createTask.id);

    const owner = await t.seed.user();
    const key = await t.seed.apiKey(owner, ['TASKS_WRITE', 'TASKS_READ']);
    const keyed = expectNoErrors(await send(t, 'k-key', CREATE, { i: { title } }, key.secret));
    const REVOKE = `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`;
    expectNoErrors(await t.gql(REVOKE, { id: key.id }, owner.accessToken));
    const revoked = await send(t, 'k-key', CREATE, { i: { title } }, key.secret);
    expectErrorCode(revoked, 'UNAUTHENTICATED');
    expect(revoked.headers.get('idempotent-replayed')).toBeNull();
    expect(JSON.stringify(revoked.data ?? null)).not.toContain(keyed.createTask.id);
    // Nothing was written again: one task each.
    expect(await countTasks(owner.accessToken, title)).toBe(1);
  });

  it('neither replays nor runs again a request whose sender changed role: CONFLICT', async () => {
    const admin = await t.seed.newAdmin();
    const title = unique('demoted');
    expectNoErrors(await send(t, 'k-role', CREATE, { i: { title } }, admin.accessToken));
    const root = await t.seed.admin();
    const DEMOTE = `mutation($id: ID!) { setUserRole(userId: $id, role: USER) { id role } }`;
    expectNoErrors(await t.gql(DEMOTE, { id: admin.id }, root.accessToken));
    const retry = await send(t, 'k-role', CREATE, { i: { title } }, admin.accessToken);
    expectErrorCode(retry, 'CONFLICT');
    expect(retry.status).toBe(409);
    expect(await countTasks(admin.accessToken, title)).toBe(1);
    // A USER's stored answers replay as before (the body's hash alone).
    const again = await send(
      t,
      'k-role-2',
      CREATE,
      { i: { title: `${title}-u` } },
      admin.accessToken,
    );
    const replay = await send(
      t,
      'k-role-2',
      CREATE,
      { i: { title: `${title}-u` } },
      admin.accessToken,
    );
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(expectNoErrors(replay).createTask).toEqual(expectNoErrors(again).createTask);
  });

  // A partition can only be played on PostgreSQL (PGlite runs in this process).
  describePg('after an outage', () => {
    it('lets a client that got SERVICE_UNAVAILABLE retry with the same key and write once', async () => {
      const proxy = await startTcpProxy(new URL(process.env.TEST_DATABASE_URL!));
      const flaky = await startTestApp({ databaseUrl: proxy.url(), requestTimeoutMs: 1_000 });
      try {
        const user = await t.seed.user();
        const title = unique('outage');
        proxy.blackhole();
        const lost = await send(flaky, 'k-outage', CREATE, { i: { title } }, user.accessToken);
        expectErrorCode(lost, 'SERVICE_UNAVAILABLE');
        await proxy.restore();
        let answer = null;
        for (let i = 0; i < 20 && !answer; i += 1) {
          const res = await send(flaky, 'k-outage', CREATE, { i: { title } }, user.accessToken);
          if (!res.errors) answer = res;
          else await new Promise((r) => setTimeout(r, 100));
        }
        expect(answer).not.toBeNull();
        // One more retry replays; the task exists once.
        const replay = await send(flaky, 'k-outage', CREATE, { i: { title } }, user.accessToken);
        expect(replay.headers.get('idempotent-replayed')).toBe('true');
        expect(expectNoErrors(replay).createTask.id).toBe(answer!.data.createTask.id);
        const client = new Client({ connectionString: process.env.TEST_DATABASE_URL });
        await client.connect();
        const { rows } = await client.query(
          'select count(*)::int as n from tasks where title = $1',
          [title],
        );
        await client.end();
        expect(rows[0].n).toBe(1);
      } finally {
        await flaky.close();
        await proxy.stop();
      }
    }, 20_000);
  });
});
