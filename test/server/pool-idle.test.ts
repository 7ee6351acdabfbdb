import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectNoErrors } from '../helpers/graphql';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';

/**
 * A pooled connection stays open for DB_POOL_IDLE_TIMEOUT_MS after its last use (5 minutes by
 * default): traffic that pauses for a few seconds finds its connections open instead of paying
 * a connect and a new backend's first calls again. Counted at a TCP proxy in front of the
 * database, which sees every connection the server opens.
 */
describe('pooled connections and idleness', () => {
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
    const app = await startTestApp({ databaseUrl: proxy.url(), dbPoolMax: 3, ...overrides });
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
});
