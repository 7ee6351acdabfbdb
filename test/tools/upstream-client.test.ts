import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import {
  UpstreamCallError,
  UpstreamClient,
  type UpstreamClientOptions,
} from '../../src/upstream/upstream-client';

interface SeenRequest {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage['headers'];
  body: string;
}

interface TestServer {
  url: string;
  requests: SeenRequest[];
  server: Server;
}

type Handler = (req: IncomingMessage, res: ServerResponse, index: number) => void;

const servers: Server[] = [];
const clients: UpstreamClient[] = [];

async function startServer(handler: Handler): Promise<TestServer> {
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const index = requests.length;
      requests.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      handler(req, res, index);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, server };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(text);
}

function makeClient(overrides: Partial<UpstreamClientOptions> = {}): UpstreamClient {
  const client = new UpstreamClient({
    timeoutMs: 2000,
    retries: 2,
    retryBaseMs: 10,
    breakerFailures: 100,
    breakerResetMs: 200,
    ...overrides,
  });
  clients.push(client);
  return client;
}

async function callError(promise: Promise<unknown>): Promise<UpstreamCallError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof UpstreamCallError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let client: UpstreamClient;

beforeAll(() => {
  client = makeClient();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

describe('UpstreamClient success', () => {
  it('posts {input} as JSON and returns output and usage', async () => {
    const upstream = await startServer((_req, res) =>
      sendJson(res, 200, { output: { text: 'hi' }, usage: { inputTokens: 12, outputTokens: 34 } }),
    );

    const result = await client.call(
      'ok-usage',
      `${upstream.url}/run?x=1`,
      { prompt: 'hello' },
      'req-42',
    );

    expect(result).toEqual({
      output: { text: 'hi' },
      usage: { inputTokens: 12, outputTokens: 34 },
      attempts: 1,
    });
    expect(upstream.requests).toHaveLength(1);
    const [seen] = upstream.requests;
    expect(seen?.method).toBe('POST');
    expect(seen?.url).toBe('/run?x=1');
    expect(seen?.headers['content-type']).toBe('application/json');
    expect(seen?.headers['x-request-id']).toBe('req-42');
    expect(JSON.parse(seen?.body ?? '')).toEqual({ input: { prompt: 'hello' } });
  });

  it('returns usage null when the tool reports none, and omits x-request-id when not given', async () => {
    const upstream = await startServer((_req, res, index) =>
      sendJson(res, 200, index === 0 ? { output: 'plain' } : { output: null, usage: null }),
    );

    const first = await client.call('ok-no-usage', upstream.url, 'in');
    const second = await client.call('ok-no-usage', upstream.url, 'in');

    expect(first).toEqual({ output: 'plain', usage: null, attempts: 1 });
    expect(second).toEqual({ output: null, usage: null, attempts: 1 });
    expect(upstream.requests[0]?.headers['x-request-id']).toBeUndefined();
  });

  it('sends credentials from the URL as basic auth, not in the request line', async () => {
    const upstream = await startServer((_req, res) => sendJson(res, 200, { output: 1 }));
    const withCredentials = upstream.url.replace('http://', 'http://tool:s%40cret@');

    const result = await client.call('credentials', `${withCredentials}/x#frag`, null);

    expect(result.output).toBe(1);
    expect(upstream.requests[0]?.url).toBe('/x');
    expect(upstream.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('tool:s@cret').toString('base64')}`,
    );
  });
});

describe('UpstreamClient retries', () => {
  it('retries a 502 and succeeds', async () => {
    const upstream = await startServer((_req, res, index) =>
      index === 0 ? sendJson(res, 502, 'bad gateway') : sendJson(res, 200, { output: 'second' }),
    );

    const result = await client.call('retry-502', upstream.url, 1);

    expect(result).toEqual({ output: 'second', usage: null, attempts: 2 });
    expect(upstream.requests).toHaveLength(2);
  });

  it('gives up after the configured retries of 503/504', async () => {
    const upstream = await startServer((_req, res, index) =>
      sendJson(res, index % 2 === 0 ? 503 : 504, 'busy'),
    );

    const err = await callError(client.call('retry-exhausted', upstream.url, 1));

    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(err.attempts).toBe(3);
    expect(err.reached).toBe(true);
    expect(upstream.requests).toHaveLength(3);
  });

  it('does not retry a 500 and hides the upstream body and URL from users', async () => {
    const upstream = await startServer((_req, res) => sendJson(res, 500, 'secret stack trace'));

    const err = await callError(client.call('no-retry-500', `${upstream.url}/private`, 1));

    expect(upstream.requests).toHaveLength(1);
    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(err.attempts).toBe(1);
    expect(err.reached).toBe(true);
    expect(err.message).toBe('tool answered HTTP 500');
    const gqlError = err.toGraphQLError();
    expect(gqlError.message).toBe('The tool failed');
    expect(gqlError.extensions.code).toBe('UPSTREAM_ERROR');
  });

  it('does not retry a 400', async () => {
    const upstream = await startServer((_req, res) => sendJson(res, 400, { error: 'bad input' }));

    const err = await callError(client.call('no-retry-400', upstream.url, 1));

    expect(upstream.requests).toHaveLength(1);
    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(err.attempts).toBe(1);
  });

  it('does not follow a redirect', async () => {
    const upstream = await startServer((req, res) => {
      if (req.url === '/moved') {
        res.writeHead(307, { location: '/target' });
        res.end();
      } else {
        sendJson(res, 200, { output: 'followed' });
      }
    });

    const err = await callError(client.call('redirect', `${upstream.url}/moved`, 1));

    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(upstream.requests.map((r) => r.url)).toEqual(['/moved']);
  });

  it('retries a refused connection, then fails with UPSTREAM_ERROR', async () => {
    const closed = await startServer(() => undefined);
    closed.server.close();
    await once(closed.server, 'close');

    const err = await callError(client.call('refused', closed.url, 1));

    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(err.attempts).toBe(3);
    expect(err.reached).toBe(true);
    expect(err.message).toBe('connection to the tool failed before any response (ECONNREFUSED)');
  });

  it('does not retry a connection dropped before any response header', async () => {
    const upstream = await startServer((req, res, index) => {
      if (index === 0) req.socket.destroy();
      else sendJson(res, 200, { output: 'after reset' });
    });

    const err = await callError(client.call('reset', upstream.url, 1));

    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(err.attempts).toBe(1);
    expect(err.reached).toBe(true);
    expect(upstream.requests).toHaveLength(1);
  });

  it('does not retry an upstream that reads the whole body and then resets the connection', async () => {
    const body = 'x'.repeat(256 * 1024);
    const received: number[] = [];
    const upstream = createNetServer((socket) => {
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        const headerEnd = buffered.indexOf('\r\n\r\n');
        if (headerEnd === -1) return;
        const length = /content-length: *(\d+)/i.exec(buffered.subarray(0, headerEnd).toString());
        if (buffered.length - headerEnd - 4 < Number(length?.[1])) return;
        received.push(buffered.length - headerEnd - 4);
        socket.resetAndDestroy();
      });
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const { port } = upstream.address() as AddressInfo;

    const err = await callError(client.call('reset-after-body', `http://127.0.0.1:${port}/`, body));
    upstream.close();

    expect(received).toEqual([JSON.stringify({ input: body }).length]);
    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(err.attempts).toBe(1);
    expect(err.reached).toBe(true);
  });
});

describe('UpstreamClient deadline', () => {
  it('reports UPSTREAM_TIMEOUT for a slow tool and does not retry it', async () => {
    const fast = makeClient({ timeoutMs: 300 });
    const upstream = await startServer((_req, res) => {
      setTimeout(() => sendJson(res, 200, { output: 'late' }), 1000).unref();
    });

    const started = Date.now();
    const err = await callError(fast.call('slow-headers', upstream.url, 1));
    const elapsed = Date.now() - started;

    expect(err.code).toBe('UPSTREAM_TIMEOUT');
    expect(err.attempts).toBe(1);
    expect(upstream.requests).toHaveLength(1);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(800);
    const gqlError = err.toGraphQLError();
    expect(gqlError.extensions.code).toBe('UPSTREAM_TIMEOUT');
    expect(gqlError.message).toBe('The tool did not answer in time');
  });

  it('bounds a connect that never completes', async () => {
    // A TLS handshake against a plain TCP server that stays silent never finishes connecting.
    const fast = makeClient({ timeoutMs: 300 });
    const sockets: Socket[] = [];
    const silent = createNetServer((socket) => sockets.push(socket));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;

    const started = Date.now();
    const err = await callError(fast.call('slow-connect', `https://127.0.0.1:${port}/`, 1));
    const elapsed = Date.now() - started;
    for (const socket of sockets) socket.destroy();
    silent.close();

    expect(err.code).toBe('UPSTREAM_TIMEOUT');
    expect(err.attempts).toBe(1);
    expect(elapsed).toBeLessThan(800);
  });

  it('applies the deadline while reading the body', async () => {
    const fast = makeClient({ timeoutMs: 300 });
    const upstream = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"output": "never fin');
    });

    const err = await callError(fast.call('slow-body', upstream.url, 1));

    expect(err.code).toBe('UPSTREAM_TIMEOUT');
    expect(upstream.requests).toHaveLength(1);
  });

  it('reports UPSTREAM_TIMEOUT when the backoff would run past the deadline', async () => {
    const short = makeClient({ timeoutMs: 300, retryBaseMs: 1000 });
    const upstream = await startServer((_req, res) => sendJson(res, 503, 'busy'));

    const err = await callError(short.call('backoff-deadline', upstream.url, 1));

    expect(err.code).toBe('UPSTREAM_TIMEOUT');
    expect(err.attempts).toBe(1);
    expect(upstream.requests).toHaveLength(1);
  });
});

describe('UpstreamClient answer validation', () => {
  const answers: Record<string, string> = {
    'not-json': 'this is not json',
    'json-array': '[1, 2]',
    'json-null': 'null',
    'missing-output': JSON.stringify({ result: 'x' }),
    'usage-not-object': JSON.stringify({ output: 1, usage: 5 }),
    'usage-missing-field': JSON.stringify({ output: 1, usage: { inputTokens: 1 } }),
    'string-tokens': JSON.stringify({ output: 1, usage: { inputTokens: '1', outputTokens: 2 } }),
    'negative-tokens': JSON.stringify({ output: 1, usage: { inputTokens: -1, outputTokens: 2 } }),
    'fractional-tokens': JSON.stringify({
      output: 1,
      usage: { inputTokens: 1, outputTokens: 2.5 },
    }),
    'absurd-tokens': JSON.stringify({
      output: 1,
      usage: { inputTokens: 1, outputTokens: 10_000_001 },
    }),
  };
  let upstream: TestServer;

  beforeAll(async () => {
    upstream = await startServer((req, res) =>
      sendJson(res, 200, answers[req.url?.slice(1) ?? '']!),
    );
  });

  it.each(Object.keys(answers))('rejects %s with UPSTREAM_ERROR without retrying', async (name) => {
    const before = upstream.requests.length;

    const err = await callError(client.call('validation', `${upstream.url}/${name}`, 1));

    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(err.attempts).toBe(1);
    expect(err.toGraphQLError().message).toBe('Invalid answer from the tool');
    expect(upstream.requests.length - before).toBe(1);
  });

  it('accepts token counts up to maxReportedTokens', async () => {
    const lenient = makeClient({ maxReportedTokens: 20_000_000 });

    const result = await lenient.call('validation', `${upstream.url}/absurd-tokens`, 1);

    expect(result.usage).toEqual({ inputTokens: 1, outputTokens: 10_000_001 });
  });

  it('rejects an answer larger than maxResponseBytes, declared or streamed', async () => {
    const small = makeClient({ maxResponseBytes: 1024 });
    const big = JSON.stringify({ output: 'x'.repeat(2000) });
    const server = await startServer((req, res) => {
      if (req.url === '/declared') {
        sendJson(res, 200, big);
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }); // chunked, no length
        res.write(big.slice(0, 1000));
        setTimeout(() => res.end(big.slice(1000)), 20).unref();
      }
    });

    const declared = await callError(small.call('oversize', `${server.url}/declared`, 1));
    const streamed = await callError(small.call('oversize', `${server.url}/streamed`, 1));

    expect(declared.code).toBe('UPSTREAM_ERROR');
    expect(declared.message).toBe('tool answer exceeds 1024 bytes');
    expect(streamed.code).toBe('UPSTREAM_ERROR');
    expect(streamed.message).toBe('tool answer exceeds 1024 bytes');
    expect(server.requests).toHaveLength(2);
  });

  it('refuses non-http URLs without calling anything', async () => {
    const ftp = await callError(client.call('bad-url', 'ftp://127.0.0.1/file', 1));
    const garbage = await callError(client.call('bad-url', 'not a url', 1));

    expect([ftp.code, ftp.reached, ftp.attempts]).toEqual(['UPSTREAM_ERROR', false, 0]);
    expect([garbage.code, garbage.reached, garbage.attempts]).toEqual(['UPSTREAM_ERROR', false, 0]);
  });
});

describe('UpstreamClient circuit breaker', () => {
  it('opens after breakerFailures failures, fails fast, then lets a probe close it', async () => {
    const breakerClient = makeClient({ breakerFailures: 3, breakerResetMs: 200, retries: 0 });
    let healthy = false;
    const upstream = await startServer((_req, res) =>
      healthy ? sendJson(res, 200, { output: 'back' }) : sendJson(res, 500, 'down'),
    );
    const other = await startServer((_req, res) => sendJson(res, 200, { output: 'other' }));

    for (let i = 0; i < 3; i += 1) {
      const err = await callError(breakerClient.call('tool-a', upstream.url, i));
      expect([err.code, err.reached]).toEqual(['UPSTREAM_ERROR', true]);
    }
    expect(breakerClient.breakerState('tool-a')).toBe('open');

    const refused = await callError(breakerClient.call('tool-a', upstream.url, 'x'));
    expect([refused.code, refused.reached, refused.attempts]).toEqual(['UPSTREAM_ERROR', false, 0]);
    expect(refused.toGraphQLError().message).toBe('The tool is temporarily unavailable');
    expect(upstream.requests).toHaveLength(3);

    // Breakers are per tool.
    expect(breakerClient.breakerState('tool-b')).toBe('closed');
    expect((await breakerClient.call('tool-b', other.url, 1)).output).toBe('other');

    healthy = true;
    await sleep(250);
    expect(breakerClient.breakerState('tool-a')).toBe('half-open');

    const probe = await breakerClient.call('tool-a', upstream.url, 'probe');
    expect(probe.output).toBe('back');
    expect(upstream.requests).toHaveLength(4);
    expect(breakerClient.breakerState('tool-a')).toBe('closed');

    // The failures that opened it no longer count: one new failure leaves it closed.
    healthy = false;
    await callError(breakerClient.call('tool-a', upstream.url, 'again'));
    expect(breakerClient.breakerState('tool-a')).toBe('closed');
    expect(upstream.requests).toHaveLength(5);
  });

  it('re-opens when the probe fails', async () => {
    const breakerClient = makeClient({ breakerFailures: 2, breakerResetMs: 100, retries: 0 });
    const upstream = await startServer((_req, res) => sendJson(res, 503, 'down'));

    await callError(breakerClient.call('tool-c', upstream.url, 1));
    await callError(breakerClient.call('tool-c', upstream.url, 2));
    expect(breakerClient.breakerState('tool-c')).toBe('open');

    await sleep(150);
    const probe = await callError(breakerClient.call('tool-c', upstream.url, 3));

    expect([probe.code, probe.reached]).toEqual(['UPSTREAM_ERROR', true]);
    expect(breakerClient.breakerState('tool-c')).toBe('open');
    expect(upstream.requests).toHaveLength(3);
  });

  it('counts one call with all its retries as one breaker failure', async () => {
    const breakerClient = makeClient({ breakerFailures: 2, breakerResetMs: 1000, retries: 2 });
    const upstream = await startServer((_req, res) => sendJson(res, 502, 'down'));

    const err = await callError(breakerClient.call('tool-d', upstream.url, 1));

    expect(err.attempts).toBe(3);
    expect(upstream.requests).toHaveLength(3);
    expect(breakerClient.breakerState('tool-d')).toBe('closed');
  });
});
