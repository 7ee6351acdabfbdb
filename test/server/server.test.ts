import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import net, { type Socket } from 'node:net';
import pino from 'pino';
import { loadConfig } from '../../src/config';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, gql } from '../helpers/graphql';
import { startTcpProxy } from '../helpers/tcp-proxy';
import { TEST_ADMIN } from '../helpers/test-config';

async function waitFor(fn: () => Promise<boolean>, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** `npm start`'s entry point as its own process on the test database; its output collected. */
function startServer(env: Record<string, string>) {
  const child = spawn(process.execPath, ['scripts/run-ts.mjs', 'src/main.ts'], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      DATABASE_URL: process.env.TEST_DATABASE_URL,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      BCRYPT_COST: '10',
      DB_POOL_MAX: '2',
      ADMIN_EMAIL: TEST_ADMIN.email,
      ADMIN_PASSWORD: TEST_ADMIN.password,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return { child, out: () => out };
}

describe('HTTP surface', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ corsOrigins: ['https://app.example'] });
  });
  afterAll(() => t.close());

  it('answers /health and /ready with {"status":"ok"}', async () => {
    for (const path of ['/health', '/ready']) {
      const res = await fetch(`${t.url}${path}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
    }
  });

  it('gives every response a request id and reuses a valid incoming one', async () => {
    const fresh = await fetch(`${t.url}/health`);
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const reused = await fetch(`${t.url}/health`, { headers: { 'x-request-id': 'trace-abc.123' } });
    expect(reused.headers.get('x-request-id')).toBe('trace-abc.123');
    const bad = await fetch(`${t.url}/health`, {
      headers: { 'x-request-id': 'no spaces <script>' },
    });
    expect(bad.headers.get('x-request-id')).not.toBe('no spaces <script>');
  });

  it('exposes Prometheus metrics that count the requests served', async () => {
    await fetch(`${t.url}/health`);
    const res = await fetch(`${t.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(
      /switchboard_http_request_duration_seconds_count\{method="GET",route="\/health",status="200"\} [1-9]/,
    );
  });

  it('serves metrics only to loopback clients without METRICS_TOKEN, and only with the token when set', async () => {
    // Behind a trusted proxy the client is the forwarded address: not loopback, so refused.
    const proxied = await startTestApp({ trustProxy: true });
    try {
      const remote = await fetch(`${proxied.url}/metrics`, {
        headers: { 'x-forwarded-for': '203.0.113.9' },
      });
      expect(remote.status).toBe(403);
      expect(await remote.text()).not.toContain('switchboard_');
      expect((await fetch(`${proxied.url}/metrics`)).status).toBe(200);
    } finally {
      await proxied.close();
    }
    const token = 'metrics-token-0123456789abcdef';
    const guarded = await startTestApp({ metricsToken: token });
    try {
      for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${token}`, token]) {
        const res = await fetch(`${guarded.url}/metrics`, {
          headers: authorization ? { authorization } : {},
        });
        expect(res.status).toBe(401);
        expect(await res.text()).not.toContain('switchboard_');
      }
      const ok = await fetch(`${guarded.url}/metrics`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('switchboard_http_request_duration_seconds');
    } finally {
      await guarded.close();
    }
  });

  it('allows only configured CORS origins', async () => {
    const allowed = await fetch(`${t.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const refused = await fetch(`${t.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('serves the IDE to browsers from its own assets, and GraphQL to clients', async () => {
    const page = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Switchboard GraphQL IDE');
    expect(html).not.toMatch(/src="https?:\/\//);
    const query = await fetch(
      `${t.url}/graphql?query=${encodeURIComponent('{ plans { tier } }')}`,
      {
        headers: { accept: 'application/json', 'apollo-require-preflight': 'true' },
      },
    );
    expect(await query.json()).toMatchObject({
      data: { plans: [{ tier: 'FREE' }, { tier: 'PRO' }, { tier: 'ENTERPRISE' }] },
    });
  });

  it('keeps every error to the contract’s codes: a GraphQL validation error is BAD_USER_INPUT', async () => {
    const res = await t.gql(`{ nope }`);
    expectErrorCode(res, 'BAD_USER_INPUT');
    const missing = await t.gql(
      `mutation($i: RegisterInput!) { register(input: $i) { accessToken } }`,
      { i: { email: 'x@example.com', password: 'password-123' } },
    );
    expect(expectErrorCode(missing, 'BAD_USER_INPUT').extensions?.fields).toEqual(['name']);
    const badEnum = await t.gql(
      `query($s: [TaskStatus!]) { tasks(filter: { status: $s }) { totalCount } }`,
      {
        s: ['FINISHED'],
      },
    );
    expect(badEnum.status).toBeLessThan(500);
    expectErrorCode(badEnum, 'BAD_USER_INPUT');
    const plans = expectNoErrors(
      await t.gql(`{ plans { tier monthlyTokenQuota requestsPerMinute } }`),
    );
    expect(plans.plans).toEqual([
      { tier: 'FREE', monthlyTokenQuota: 10000, requestsPerMinute: 10 },
      { tier: 'PRO', monthlyTokenQuota: 1000000, requestsPerMinute: 120 },
      { tier: 'ENTERPRISE', monthlyTokenQuota: null, requestsPerMinute: 1200 },
    ]);
  });
});

describe('readiness follows the database', () => {
  it('turns 503 while the database is unreachable and back to 200 when it returns', async () => {
    const proxy = await startTcpProxy(new URL(process.env.TEST_DATABASE_URL!));
    const t = await startTestApp({ databaseUrl: proxy.url(), dbPoolMax: 2 });
    try {
      expect((await fetch(`${t.url}/ready`)).status).toBe(200);
      await proxy.cut();
      const down = await fetch(`${t.url}/ready`);
      expect(down.status).toBe(503);
      expect(((await down.json()) as { status: string }).status).not.toBe('ok');
      expect((await fetch(`${t.url}/health`)).status).toBe(200);
      await proxy.restore();
      const back = await waitFor(async () => (await fetch(`${t.url}/ready`)).status === 200, 8_000);
      expect(back).toBe(true);
    } finally {
      await t.close();
      await proxy.stop();
    }
  });
});

describe('configuration', () => {
  it('names each bad variable and refuses a missing or weak JWT_SECRET in production', () => {
    expect(() => loadConfig({ PORT: 'eighty', BCRYPT_COST: '4' })).toThrow(
      /PORT[\s\S]*BCRYPT_COST|BCRYPT_COST[\s\S]*PORT/,
    );
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(
      /JWT_SECRET: required in production/,
    );
    expect(() =>
      loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' }),
    ).toThrow(/JWT_SECRET: too weak/);
    const ok = loadConfig({
      NODE_ENV: 'production',
      JWT_SECRET: 'Zq8#rT2!vLp9@wX4$kM7%nB3^cF6&hJ1*',
    });
    expect(ok.ide).toBe(false);
    expect(ok.introspection).toBe(false);
    expect(loadConfig({}).port).toBe(4000);
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN/);
    expect(() => loadConfig({ AUTH_RATE_PER_MINUTE: '0' })).toThrow(/AUTH_RATE_PER_MINUTE/);
    expect(loadConfig({}).metricsToken).toBeUndefined();
    // Each bad value is named, however they combine.
    expect(() => loadConfig({ QUERY_COST_BUCKET: '1000000000' })).toThrow(
      /QUERY_COST_BUCKET: must be a whole number/,
    );
    expect(() => loadConfig({ QUERY_COST_BUCKET: '100' })).toThrow(
      /QUERY_COST_BUCKET: must hold at least QUERY_MAX_COST/,
    );
    expect(() => loadConfig({ DB_POOL_MAX: '1' })).toThrow(/DB_POOL_MAX/);
    expect(loadConfig({}).costBucketSize).toBe(2 * loadConfig({}).queryMaxCost);
  });

  it('reads TRUST_PROXY as none, every hop, a number of hops, or a list of proxies', () => {
    const trust = (value: string) => loadConfig({ TRUST_PROXY: value }).trustProxy;
    expect(trust('false')).toBe(false);
    expect(trust('true')).toBe(true);
    expect(trust('2')).toBe(2);
    expect(trust('10.0.0.0/8, 192.168.1.7,loopback')).toEqual([
      '10.0.0.0/8',
      '192.168.1.7',
      'loopback',
    ]);
    expect(trust('fd00::/8')).toEqual(['fd00::/8']);
    expect(() => loadConfig({ TRUST_PROXY: 'proxy.example.com' })).toThrow(/TRUST_PROXY/);
    expect(() => loadConfig({ TRUST_PROXY: '99' })).toThrow(/TRUST_PROXY/);
  });
});

describe('client addresses behind proxies (TRUST_PROXY)', () => {
  const login = (app: TestApp, forwarded: string) =>
    gql(
      app.url,
      `mutation { login(input: {email: "nobody@example.com", password: "wrong-password"}) { accessToken } }`,
      {},
      undefined,
      { 'x-forwarded-for': forwarded },
    );

  it('with a number of hops, takes the address the nearest proxy appended, not what the client wrote', async () => {
    // Two sign-ins a minute per address: the third from one address is refused.
    const hops = await startTestApp({ trustProxy: 1, authRatePerMinute: 2, redisUrl: undefined });
    const every = await startTestApp({
      trustProxy: true,
      authRatePerMinute: 2,
      redisUrl: undefined,
    });
    try {
      // The client writes a new address each time; the proxy appends the same real one.
      const codes = async (app: TestApp) => {
        const seen: string[] = [];
        for (let i = 0; i < 4; i += 1) {
          const res = await login(app, `10.60.${i}.1, 203.0.113.50`);
          seen.push(String(res.errors?.[0]?.extensions?.code));
        }
        return seen;
      };
      expect(await codes(hops)).toEqual([
        'UNAUTHENTICATED',
        'UNAUTHENTICATED',
        'RATE_LIMITED',
        'RATE_LIMITED',
      ]);
      // Trusting every hop believes the client's own entry: each attempt a new address.
      expect(await codes(every)).toEqual(Array(4).fill('UNAUTHENTICATED'));
    } finally {
      await hops.close();
      await every.close();
    }
  });
});

describe('logs', () => {
  it('are readable lines with LOG_FORMAT=pretty (auto in a terminal outside production), JSON otherwise', async () => {
    for (const [format, json] of [
      ['pretty', false],
      ['json', true],
    ] as const) {
      const { child, out } = startServer({ LOG_FORMAT: format });
      try {
        expect(await waitFor(async () => out().includes('Switchboard is ready'), 20_000)).toBe(
          true,
        );
        const line = out()
          .split('\n')
          .find((l) => l.includes('Switchboard is ready'))!;
        expect({ format, json: line.trimStart().startsWith('{') }).toEqual({ format, json });
      } finally {
        child.kill('SIGKILL');
      }
    }
  }, 60_000);
});

describe('request logs', () => {
  /** The server in JSON log format, once ready: its base URL, and its log lines naming `id`. */
  async function readyJsonServer() {
    const { child, out } = startServer({ LOG_FORMAT: 'json' });
    expect(await waitFor(async () => out().includes('Switchboard is ready'), 20_000)).toBe(true);
    const url = /"url":"(http:\/\/[^"]+)\/graphql"/.exec(out())![1]!;
    const linesOf = (id: string) =>
      out()
        .split('\n')
        .filter((l) => l.includes(id))
        .map((l) => JSON.parse(l) as Record<string, any>);
    return { child, out, url, linesOf };
  }

  it('write one line a request, when it is answered, with its id, route, status and time and no secrets', async () => {
    const { child, out, url, linesOf } = await readyJsonServer();
    try {
      const requestId = `log-line-${process.pid}-${Date.now()}`;
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-request-id': requestId,
          authorization: 'Bearer not-a-token-but-secret',
        },
        body: JSON.stringify({
          query: 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }',
          variables: { i: { email: 'nobody@example.com', password: 'a-password-never-logged' } },
        }),
      });
      expect(res.status).toBe(200);
      await res.text();
      // The lines are written off the event loop: they come shortly after the answer.
      const mine = () => linesOf(requestId);
      expect(
        await waitFor(async () => mine().some((l) => l.msg === 'request completed'), 5_000),
      ).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      const lines = mine();
      // Fastify alone writes two ("incoming request" too).
      expect(lines.filter((l) => l.req || l.res)).toHaveLength(1);
      const [line] = lines.filter((l) => l.msg === 'request completed');
      expect(line).toMatchObject({
        level: 30,
        reqId: requestId,
        req: { method: 'POST', url: '/graphql', remoteAddress: '127.0.0.1' },
        res: { statusCode: 200 },
      });
      expect(typeof line!.responseTime).toBe('number');
      expect(line!.responseTime).toBeGreaterThan(0);
      expect(out()).not.toContain('a-password-never-logged');
      expect(out()).not.toContain('not-a-token-but-secret');
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);

  it('name only the path of a GET (its variables can carry anything), and log a request its client abandoned', async () => {
    const { child, out, url, linesOf } = await readyJsonServer();
    try {
      const getId = `log-get-${process.pid}-${Date.now()}`;
      const secret = `get-secret-${Date.now()}`;
      const params = new URLSearchParams({
        query: '{ plans { tier } }',
        variables: JSON.stringify({ s: secret }),
      });
      const res = await fetch(`${url}/graphql?${params}`, {
        headers: { 'x-request-id': getId, 'apollo-require-preflight': 'true' },
      });
      await res.text();
      // A request whose body never ends, then the client goes away.
      const abortId = `log-abort-${process.pid}-${Date.now()}`;
      const { hostname, port } = new URL(url);
      const socket = net.connect(Number(port), hostname);
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(
        `POST /graphql HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
          `X-Request-Id: ${abortId}\r\nContent-Length: 100\r\n\r\n{"query":`,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      socket.destroy();
      expect(await waitFor(async () => linesOf(abortId).length > 0, 5_000)).toBe(true);
      expect(linesOf(abortId)).toEqual([
        expect.objectContaining({
          msg: 'request aborted by the client',
          req: expect.objectContaining({ method: 'POST', url: '/graphql' }),
        }),
      ]);
      expect(linesOf(getId)).toEqual([
        expect.objectContaining({
          msg: 'request completed',
          req: expect.objectContaining({ method: 'GET', url: '/graphql' }),
          res: { statusCode: 200 },
        }),
      ]);
      expect(out()).not.toContain(secret);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);

  it("are all written when the process stops: the last request's line is there after SIGTERM", async () => {
    const { child, out, url } = await readyJsonServer();
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    try {
      const requestId = `log-last-${process.pid}-${Date.now()}`;
      const res = await fetch(`${url}/health`, { headers: { 'x-request-id': requestId } });
      expect(res.status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      await new Promise((r) => setTimeout(r, 100));
      const text = out();
      expect(text).toContain(requestId);
      expect(text).toContain('"msg":"stopped"');
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});

describe('SIGTERM', () => {
  it('drains: the in-flight request finishes, new ones are refused, the process exits 0', async () => {
    let release: () => void = () => undefined;
    const upstream: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        release = () => res.end(JSON.stringify({ output: { ok: true } }));
        setTimeout(release, 1_500);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}/`;

    const server = startServer({});
    const child = server.child;
    const out = () => server.out();
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    try {
      const ready = await waitFor(async () => out().includes('Switchboard is ready'), 20_000);
      expect(ready).toBe(true);
      const url = /"url":"(http:\/\/[^"]+)\/graphql"/.exec(out())![1]!;

      const admin = expectNoErrors(
        await gql(url, `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`, {
          i: TEST_ADMIN,
        }),
      ).login.accessToken as string;
      const slug = `slow-${process.pid}-${Date.now()}`;
      expectNoErrors(
        await gql(
          url,
          `mutation($i: CreateToolInput!) { createTool(input: $i) { id } }`,
          {
            i: {
              slug,
              name: 'Slow',
              description: 'Answers slowly',
              category: 'test',
              requiredTier: 'FREE',
              inputSchema: { type: 'object' },
              maxOutputTokens: 10,
              endpointUrl: upstreamUrl,
            },
          },
          admin,
        ),
      );
      const inFlight = gql(
        url,
        `mutation($s: String!) { invokeTool(slug: $s, input: {}) { output } }`,
        { s: slug },
        admin,
      );
      await new Promise((r) => setTimeout(r, 500));
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      // New requests are refused while draining: the connection is refused, or, on a kept-alive
      // connection, a coded 503 with Retry-After (never a bare 503); readiness says so first.
      const refused = await gql(url, `{ plans { tier } }`).then(
        (res) => res,
        () => 'refused' as const,
      );
      if (refused !== 'refused') {
        expect(refused.status).toBe(503);
        expectErrorCode(refused, 'SERVICE_UNAVAILABLE');
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
      const readiness = await fetch(`${url}/ready`).then(
        (res) => res.status,
        () => 'refused',
      );
      expect([503, 'refused']).toContain(readiness);
      const done = await inFlight;
      expect(expectNoErrors(done).invokeTool.output).toEqual({ ok: true });
      const code = await exited;
      if (code !== 0) process.stderr.write(out());
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      upstream.closeAllConnections();
      await new Promise<void>((r) => upstream.close(() => r()));
    }
  });
});

describe('closing', () => {
  it('ends a database connection that is never given back instead of waiting for it forever', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const app = await startTestApp({}, { logger });
    // A connection taken out of the pool, as a leaked one would be; knex's destroy() alone
    // waits for it without bound.
    const knex = app.app.orm.em.getKnex();
    const held = (await knex.client.acquireConnection()) as {
      connection: { stream: Socket };
      query(text: string): Promise<unknown>;
    };
    await held.query('select 41 + 1 as held');
    const socket = held.connection.stream;
    expect(socket.destroyed).toBe(false);
    const started = Date.now();
    await app.close();
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(1_900);
    expect(took).toBeLessThan(8_000);
    expect(socket.destroyed).toBe(true);
    const warned = lines.map((l) => JSON.parse(l) as { msg: string; connections?: number });
    // The log names what the connection last ran: where to look for the leak.
    expect(warned).toContainEqual(
      expect.objectContaining({
        msg: 'database connections still in use at close: ended',
        connections: 1,
        lastStatements: ['select 41 + 1 as held'],
      }),
    );
  });

  it('cuts a request that never ends at half the shutdown time instead of waiting for it', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const app = await startTestApp({ shutdownTimeoutMs: 2_000 }, { logger });
    const { port } = new URL(app.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // A request whose body never comes: the server waits for it, so the connection is not idle.
    socket.write(
      'POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
    );
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await app.close();
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(6_000);
    await ended;
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toContain(
      'connections still open at close: cut',
    );
  });

  it('closes at once when every connection is back', async () => {
    const app = await startTestApp();
    expectNoErrors(await app.gql(`{ plans { tier } }`));
    const started = Date.now();
    await app.close();
    expect(Date.now() - started).toBeLessThan(1_500);
  });
});
