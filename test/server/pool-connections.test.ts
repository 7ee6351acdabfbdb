import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectNoErrors } from '../helpers/graphql';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';
import { WARM_STATEMENTS, warmPool } from '../../src/db/warm-pool';

/**
 * At start the server opens its pool's connections and runs the hot read path's functions on
 * each (DB_POOL_WARM), so that the first requests find their connections open and their
 * backends ready. A pooled connection stays open for DB_POOL_IDLE_TIMEOUT_MS after its last use (5 minutes by
 * default): traffic that pauses for a few seconds finds its connections open instead of paying
 * a connect and a new backend's first calls again. Counted at a TCP proxy in front of the
 * database, which sees every connection the server opens.
 */
describe('pooled connections: warmed at start, kept while idle', () => {
  let proxy: TcpProxy;
  let direct: TestApp;
  let token: string;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    direct = await startTestApp();
    token = (await direct.seed.user()).accessToken;
  });
  beforeEach(async () => {
    proxy = await startTcpProxy(new URL(process.env.TEST_DATABASE_URL!));
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await proxy.stop();
  });
  afterAll(async () => {
    await direct.close();
  });

  async function appThroughProxy(overrides: Parameters<typeof startTestApp>[0] = {}) {
    const app = await startTestApp({
      databaseUrl: proxy.url(),
      dbPoolMax: 3,
      dbPoolWarm: false,
      ...overrides,
    });
    apps.push(app);
    return app;
  }

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('closes a connection unused for DB_POOL_IDLE_TIMEOUT_MS', async () => {
    const t = await appThroughProxy({ dbPoolIdleTimeoutMs: 1_000 });
    expectNoErrors(await t.gql(`{ me { id } }`, {}, token));
    expect(proxy.connections().open).toBeGreaterThanOrEqual(1);
    // The pool looks for idle connections once a second: 1 s idle, then at most 1 s more.
    const until = Date.now() + 5_000;
    while (proxy.connections().open > 0 && Date.now() < until) await sleep(100);
    expect(proxy.connections().open).toBe(0);
    // The next request opens one again and is answered.
    const before = proxy.connections().accepted;
    expectNoErrors(await t.gql(`{ me { id } }`, {}, token));
    expect(proxy.connections().accepted).toBeGreaterThan(before);
  });

  it('by default keeps connections open across a pause of seconds, and reuses them', async () => {
    const t = await appThroughProxy();
    expectNoErrors(await t.gql(`{ me { id } }`, {}, token));
    const { open, accepted } = proxy.connections();
    expect(open).toBeGreaterThanOrEqual(1);
    // Past the 10 s that connections used to live unused.
    await sleep(11_500);
    expect(proxy.connections().open).toBe(open);
    const me = await t.gql<{ me: { id: string } }>(`{ me { id } }`, {}, token);
    expectNoErrors(me);
    expect(proxy.connections().accepted).toBe(accepted);
  }, 30_000);

  it('opens every pooled connection at start, and the first requests open none', async () => {
    const t = await appThroughProxy({ dbPoolWarm: true });
    const { open, accepted } = proxy.connections();
    if (!process.env.DATABASE_URL) {
      // PGlite runs every connection on its one backend: nothing is warmed there.
      expect(open).toBeLessThan(3);
      return;
    }
    expect(open).toBe(3);
    await Promise.all(
      Array.from({ length: 3 }, async () =>
        expectNoErrors(await t.gql(`{ me { id } }`, {}, token)),
      ),
    );
    expect(proxy.connections().accepted).toBe(accepted);
  });

  it('without DB_POOL_WARM opens connections as requests need them', async () => {
    await appThroughProxy({ dbPoolWarm: false });
    expect(proxy.connections().open).toBeLessThan(3);
  });

  it('runs each warm statement on every connection without an error', async () => {
    let sent = 0;
    const stop = direct.app.watchStatements(() => (sent += 1));
    try {
      const result = await warmPool(direct.app.orm.em.getKnex(), 2);
      expect(result).toEqual({ warmed: 2 });
    } finally {
      stop();
    }
    expect(sent).toBe(2 * WARM_STATEMENTS.length * 6);
  });

  it('reports a statement that fails instead of throwing (a start goes on without a warm pool)', async () => {
    const result = await warmPool(direct.app.orm.em.getKnex(), 1, [
      ...WARM_STATEMENTS,
      'select * from no_such_function()',
    ]);
    expect(result.warmed).toBe(0);
    expect(String(result.error)).toMatch(/no_such_function/);
    // The connection went back to the pool and still works.
    expectNoErrors(await direct.gql(`{ me { id } }`, {}, token));
  });
});
