/* eslint-disable no-console */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import autocannon from 'autocannon';
import { freePort, processTicks, productNodeFlags, scratchDatabase } from './scratch';

/**
 * `npm run bench:telemetry`: what tracing costs a simple authenticated query (`{ me { id email } }`:
 * the session lookup, one statement, and the cost budget). The server runs as a process of its
 * own (the TypeScript through swc, as the tests run it; package.json's node flags), on
 * DATABASE_URL's server (a scratch database `switchboard_telemetry_bench`, recreated) or on an
 * embedded PGlite; the load comes from this process (autocannon, closed loop). Two servers run
 * side by side, telemetry off and on (every span exported over OTLP/HTTP to a sink in this
 * process that counts them), and take the load in turns, a few seconds each, round after round:
 * whatever else the machine does lands on both alike (back to back, two runs of the same server
 * here differed by a third).
 *
 *   npm run bench:telemetry [-- --rounds 4 --slice 4 --connections 20 --baseline ../other-checkout]
 *
 * `--baseline` adds a third server from another checkout (e.g. a worktree of the commit before
 * telemetry, its node_modules linked to this one's), on the same database: "off" against no
 * tracing code at all.
 */
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length - 1; i += 2) {
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1]!);
}
const ROUNDS = Number(args.get('rounds') ?? 4);
const SLICE = Number(args.get('slice') ?? 4);
const WARMUP = 3;
const CONNECTIONS = Number(args.get('connections') ?? 20);
const BASELINE = args.has('baseline') ? resolve(args.get('baseline')!) : null;
const QUERY = JSON.stringify({ query: '{ me { id email } }' });

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
  dir: string,
): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [...productNodeFlags(dir), 'scripts/run-ts.mjs', 'src/main.ts'],
    {
      cwd: dir,
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

interface Arm {
  label: string;
  child: ChildProcess;
  base: string;
  accessToken: string;
  requests: number;
  seconds: number;
  cpuMs: number;
  errors: number;
  p50: number[];
  p97: number[];
}

async function arm(label: string, env: Record<string, string>, dir = '.'): Promise<Arm> {
  const { child, base } = await startServer(env, dir);
  const accessToken = await token(base, 'bench@example.com');
  await load(base, accessToken, WARMUP);
  return {
    label,
    child,
    base,
    accessToken,
    requests: 0,
    seconds: 0,
    cpuMs: 0,
    errors: 0,
    p50: [],
    p97: [],
  };
}

async function slice(a: Arm): Promise<void> {
  const before = processTicks(a.child.pid!);
  const result = await load(a.base, a.accessToken, SLICE);
  a.cpuMs += (processTicks(a.child.pid!) - before) * 10;
  a.requests += result.requests.total;
  a.seconds += result.duration;
  a.errors += result.errors + result.non2xx;
  a.p50.push(result.latency.p50);
  a.p97.push(result.latency.p97_5);
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

async function main() {
  const db = (await scratchDatabase('switchboard_telemetry_bench')).env;
  const sink = await startSink();
  const otlp = { ...db, OTEL_EXPORTER_OTLP_ENDPOINT: sink.url };
  // One after the other: the first migrates the database.
  const arms = [await arm('off', db)];
  arms.push(await arm('on (OTLP to a local sink)', otlp));
  arms.push(
    await arm('on, 10% sampled', {
      ...otlp,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
    }),
  );
  if (BASELINE) arms.push(await arm('no tracing code (baseline)', db, BASELINE));
  try {
    for (let round = 0; round < ROUNDS; round += 1) {
      // Each round starts with the next arm, every other one in reverse: no arm always follows
      // the same one (a traced server still exports its last spans while the next one runs).
      const order = round % 2 === 0 ? arms : [...arms].reverse();
      for (let k = 0; k < arms.length; k += 1) await slice(order[(round + k) % arms.length]!);
    }
  } finally {
    await Promise.all(arms.map((a) => stopServer(a.child)));
    sink.server.close();
  }

  console.log(
    `\n{ me { id email } }, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SLICE} s per server ` +
      `after ${WARMUP} s warm-up, ${db.DATABASE_URL ? 'PostgreSQL' : 'embedded PGlite'}` +
      `${BASELINE ? `, baseline ${BASELINE}` : ''}\n`,
  );
  const rps = (a: Arm) => a.requests / a.seconds;
  const cpu = (a: Arm) => a.cpuMs / a.requests;
  const off = arms[0]!;
  const change = (value: number, of: number) => {
    const pct = ((value - of) / of) * 100;
    return `${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%`;
  };
  for (const a of arms) {
    console.log(
      `${a.label.padEnd(28)} ${rps(a).toFixed(0).padStart(6)} req/s ${change(rps(a), rps(off)).padStart(7)}   ` +
        `${cpu(a).toFixed(3)} ms CPU/request ${change(cpu(a), cpu(off)).padStart(7)}   ` +
        `p50 ${median(a.p50)} ms   p97.5 ${median(a.p97)} ms   ${a.errors} errors`,
    );
  }
  console.log(
    `\n${sink.spans} spans in ${sink.requests} OTLP requests reached the sink ` +
      `(warm-ups and sign-ins included)`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
