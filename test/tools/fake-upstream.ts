import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectNoErrors, type GraphQLResponse } from '../helpers/graphql';
import { unique, type SeededUser } from '../helpers/seed';

export interface SeenRequest {
  headers: IncomingMessage['headers'];
  /** The parsed JSON body (`{ input }`), or the raw text if it was not JSON. */
  body: any;
}

export type UpstreamHandler = (
  req: SeenRequest,
  res: ServerResponse,
  index: number,
) => void | Promise<void>;

export interface FakeUpstream {
  url: string;
  requests: SeenRequest[];
  /** Replaces the handler (the request count carries on). */
  setHandler(handler: UpstreamHandler): void;
  close(): Promise<void>;
}

/** A real HTTP tool on 127.0.0.1 (any free port) that records every request it gets. */
export async function startUpstream(handler: UpstreamHandler): Promise<FakeUpstream> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  let current = handler;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // kept as text
      }
      const seen = { headers: req.headers, body };
      const index = requests.length;
      requests.push(seen);
      void Promise.resolve(current(seen, res, index)).catch(() => res.destroy());
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/run`,
    requests,
    setHandler(next) {
      current = next;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(text);
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

export const OPEN_SCHEMA = { type: 'object' };

export interface CreatedTool {
  id: string;
  slug: string;
}

/** Registers a tool as the seeded admin; an upstream one when `endpointUrl` is given. */
export async function createTool(
  t: TestApp,
  adminToken: string,
  input: {
    endpointUrl?: string | null;
    slug?: string;
    requiredTier?: 'FREE' | 'PRO' | 'ENTERPRISE';
    maxOutputTokens?: number;
    inputSchema?: Record<string, unknown>;
  },
): Promise<CreatedTool> {
  const data = expectNoErrors(
    await t.gql<{ createTool: CreatedTool }>(
      `mutation($input: CreateToolInput!) { createTool(input: $input) { id slug } }`,
      {
        input: {
          slug: input.slug ?? unique('tool').toLowerCase(),
          name: 'Test tool',
          description: 'A tool served by the test',
          category: 'test',
          requiredTier: input.requiredTier ?? 'FREE',
          inputSchema: input.inputSchema ?? OPEN_SCHEMA,
          maxOutputTokens: input.maxOutputTokens ?? 500,
          ...(input.endpointUrl !== undefined ? { endpointUrl: input.endpointUrl } : {}),
        },
      },
      adminToken,
    ),
  );
  return data.createTool;
}

export const INVOKE = `mutation($slug: String!, $input: JSON!, $key: String) {
  invokeTool(slug: $slug, input: $input, idempotencyKey: $key) {
    output replayed
    usage { id inputTokens outputTokens totalTokens status errorCode latencyMs createdAt tool { slug } }
    subscription { tokensUsed tokensRemaining plan { tier } }
  }
}`;

/**
 * invokeTool as `token`, on `app` when given, else on the file's app (looked up at each call:
 * test files start theirs in a `beforeAll`).
 */
function invoker(fileApp: () => TestApp) {
  return (
    token: string,
    slug: string,
    input: unknown,
    key?: string,
    app: TestApp = fileApp(),
  ): Promise<GraphQLResponse<any>> => app.gql<any>(INVOKE, { slug, input, key }, token);
}

/** The FREE plan's monthly tokens. */
export const FREE_QUOTA = 10_000;

export const SUBSCRIPTION = `{ mySubscription { tokensUsed tokensRemaining currentPeriodStart currentPeriodEnd plan { tier } } }`;

/** tokensUsed and the number of usage records of the caller. */
export async function meter(
  t: TestApp,
  token: string,
): Promise<{ tokensUsed: number; records: number; succeededTokens: number }> {
  const data = expectNoErrors(
    await t.gql<{
      mySubscription: { tokensUsed: number };
      usageRecords: { totalCount: number; nodes: { totalTokens: number; status: string }[] };
    }>(
      `{ mySubscription { tokensUsed } usageRecords(first: 100) { totalCount nodes { totalTokens status } } }`,
      {},
      token,
    ),
  );
  return {
    tokensUsed: data.mySubscription.tokensUsed,
    records: data.usageRecords.totalCount,
    succeededTokens: data.usageRecords.nodes
      .filter((n) => n.status === 'SUCCEEDED')
      .reduce((sum, n) => sum + n.totalTokens, 0),
  };
}

/** ceil(JSON characters / 4), the contract's estimate when a tool reports no usage. */
export const estimate = (value: unknown): number => Math.ceil(JSON.stringify(value).length / 4);

/**
 * What every invokeTool suite sets up: a server and an admin before its tests (handed to `use`)
 * and, after them, every upstream in `upstreams` closed and the server stopped. Returns the
 * suite's invoke().
 */
export function invokeSuite(
  use: (t: TestApp, admin: SeededUser) => void,
  upstreams: FakeUpstream[],
) {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
    use(app, await app.seed.admin());
  });
  afterAll(async () => {
    await Promise.all(upstreams.map((u) => u.close()));
    await app.close();
  });
  return invoker(() => app);
}
