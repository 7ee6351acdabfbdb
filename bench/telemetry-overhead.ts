/* eslint-disable no-console */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { Client } from 'pg';

/**
 * `npm run bench:telemetry`: what tracing costs a simple authenticated query (`{ me { id email } }`:
 * the session lookup, one statement, and the cost budget). The server runs as a process of its
 * own (the TypeScript through swc, as the tests run it; package.json's node flags), on
 * DATABASE_URL's server (a scratch database `switchboard_telemetry_bench`, recreated) or on an
 * embedded PGlite; the load comes from this process (autocannon, closed loop). Three runs, in
 * this order: telemetry off, on (every span exported over OTLP/HTTP to a sink in this process
 * that counts them), off again (the spread between the two "off" runs is this machine's noise).
 *
 *   npm run bench:telemetry [-- --seconds 10 --connections 20 --server-dir ../other-checkout]
 *
 * `--server-dir` runs the server from another checkout (e.g. a worktree of the commit before
 * telemetry) against the same database, to compare "off" with no tracing code at all.
 */
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length - 1; i += 2) {
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1]!);
}
const SECONDS = Number(args.get('seconds') ?? 10);
const WARMUP = 3;
const CONNECTIONS = Number(args.get('connections') ?? 20);
const SERVER_DIR = resolve(args.get('server-dir') ?? '.');
const QUERY = JSON.stringify({ query: '{ me { id email } }' });

async function database(): Promise<Record<string, string>> {
  const base = process.env.DATABASE_URL;
  if (!base) {
    const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-telemetry-bench-'));
    process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
    return { DATA_DIR: dataDir };
  }
  const admin = new Client({ connectionString: base });
  await admin.connect();
  await admin.query('drop database if exists switchboard_telemetry_bench with (force)');
  await admin.query('create database switchboard_telemetry_bench');
  await admin.end();
  const url = new URL(base);
  url.pathname = '/switchboard_telemetry_bench';
  return { DATABASE_URL: url.toString() };
}

async function freePort(): Promise<number> {
  const probe = createTcpServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const { port } = probe.address() as AddressInfo;
  await new Promise((done) => probe.close(done));
  return port;
}

/** An OTLP/HTTP collector that counts what it gets (spans by their ids in the JSON). */
async function startSink(): Promise<{
  server: Server;
  url: string;
  requests: number;
  spans: number;
}> {
  const sink = { server: null as unknown as Server, url: '', requests: 0, spans: 0 };
  sink.server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      sink.requests += 1;
      sink.spans += body.split('"spanId"').length - 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  sink.server.listen(0, '127.0.0.1');
  await once(sink.server, 'listening');
  sink.url = `http://127.0.0.1:${(sink.server.address() as AddressInfo).port}`;
  return sink;
}

async function startServer(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const flags = (
    JSON.parse(readFileSync(join(SERVER_DIR, 'package.json'), 'utf8')) as {
      config?: { nodeFlags?: string };
    }
  ).config?.nodeFlags;
  const child = spawn(
    process.execPath,
    [...(flags ? flags.split(' ') : []), 'scripts/run-ts.mjs', 'src/main.ts'],
    {
      cwd: SERVER_DIR,
      env: {
        PATH: process.env.PATH ?? '',
        ...env,
        NODE_ENV: 'production',
        JWT_SECRET: 'telemetry-bench-secret-0123456789-abcdefghijkl',
        LOG_LEVEL: 'warn',
        HOST: '127.0.0.1',
        PORT: String(port),
        // A load test from one address, one user: neither limit is what is measured.
        QUERY_COST_BUCKET: '100000000',
        QUERY_COST_RESTORE_RATE: '100000000',
        AUTH_RATE_PER_MINUTE: '1000',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const base = `http://127.0.0.1:${port}`;
  for (;;) {
    if (exited !== undefined) throw new Error(`the server exited (${exited}) before ready`);
    if (
      await fetch(`${base}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { child, base };
    await new Promise((done) => setTimeout(done, 200));
  }
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

async function token(base: string, email: string): Promise<string> {
  const post = (query: string, variables: unknown) =>
    fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    }).then((r) => r.json() as Promise<{ data?: Record<string, { accessToken: string }> }>);
  const input = { email, password: 'telemetry-bench-123' };
  const registered = await post(
    'mutation($i: RegisterInput!) { register(input: $i) { accessToken } }',
    { i: { ...input, name: 'Bench' } },
  );
  if (registered.data?.register) return registered.data.register.accessToken;
  const login = await post('mutation($i: LoginInput!) { login(input: $i) { accessToken } }', {
    i: input,
  });
  if (!login.data?.login) throw new Error('could not sign in');
  return login.data.login.accessToken;
}

/** CPU ticks (1/100 s) the process has used. */
function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return NaN;
  }
}

function load(base: string, accessToken: string, seconds: number) {
  return new Promise<autocannon.Result>((done, fail) => {
    autocannon(
      {
        url: `${base}/graphql`,
        connections: CONNECTIONS,
        duration: seconds,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
        body: QUERY,
      },
      (err, result) => (err ? fail(err) : done(result)),
    );
  });
}

interface Figures {
  label: string;
  rps: number;
  p50: number;
  p97: number;
  cpuMsPerRequest: number;
  errors: number;
}

async function measure(label: string, env: Record<string, string>): Promise<Figures> {
  const { child, base } = await startServer(env);
  try {
    const accessToken = await token(base, 'bench@example.com');
    await load(base, accessToken, WARMUP);
    const before = cpuTicks(child.pid!);
    const result = await load(base, accessToken, SECONDS);
    const cpuMs = (cpuTicks(child.pid!) - before) * 10;
    return {
      label,
      rps: result.requests.average,
      p50: result.latency.p50,
      p97: result.latency.p97_5,
      cpuMsPerRequest: cpuMs / result.requests.total,
      errors: result.errors + result.non2xx,
    };
  } finally {
    await stopServer(child);
  }
}

async function main() {
  const db = await database();
  const sink = await startSink();
  const runs: Figures[] = [];
  runs.push(await measure('off', db));
  runs.push(
    await measure('on (OTLP to a local sink)', { ...db, OTEL_EXPORTER_OTLP_ENDPOINT: sink.url }),
  );
  const exported = { requests: sink.requests, spans: sink.spans };
  runs.push(await measure('off, again', db));
  sink.server.close();

  console.log(
    `\n{ me { id email } }, ${CONNECTIONS} connections, ${SECONDS} s after ${WARMUP} s warm-up, ` +
      `${db.DATABASE_URL ? 'PostgreSQL' : 'embedded PGlite'}, server from ${SERVER_DIR}\n`,
  );
  for (const r of runs) {
    console.log(
      `${r.label.padEnd(28)} ${r.rps.toFixed(0).padStart(6)} req/s   p50 ${r.p50} ms   ` +
        `p97.5 ${r.p97} ms   ${r.cpuMsPerRequest.toFixed(3)} ms CPU/request   ${r.errors} errors`,
    );
  }
  const off = (runs[0]!.rps + runs[2]!.rps) / 2;
  const on = runs[1]!.rps;
  console.log(
    `\ntracing on: ${(((on - off) / off) * 100).toFixed(1)}% requests/s against the mean of the ` +
      `two "off" runs (which differ by ${((Math.abs(runs[0]!.rps - runs[2]!.rps) / off) * 100).toFixed(1)}%); ` +
      `${exported.spans} spans in ${exported.requests} OTLP requests reached the sink`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
