/* eslint-disable no-console */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import bcrypt from 'bcryptjs';
import { Agent, buildConnector, request } from 'undici';
import { freePort, processTicks, productNodeFlags, scratchDatabase } from './scratch';

/**
 * `npm run bench:login-burst`: what a burst of sign-ins costs everyone else. The built server
 * runs as a process of its own, in production mode with the shipped defaults (BCRYPT_COST 11,
 * HASH_WORKERS and HASH_QUEUE_MAX unset), on DATABASE_URL's server (a scratch database
 * `switchboard_login_burst`, recreated) or on a fresh embedded PGlite. A cheap authenticated
 * query runs at a steady rate, alone and then during 200 concurrent logins from 10 client
 * addresses; the bench prints its p95 in both, the logins' latencies and counts, and how fast
 * the accepted logins completed next to what one core hashes at that cost.
 */
const COST = 11;
const STEADY_PER_SECOND = 50;
const BEFORE_SECONDS = 5;
const ADDRESSES = 10;
const USERS = 20;
const LOGINS_PER_USER = 10; // 20 x 10 = 200; 10 a minute is the default per-email budget
const LOGINS = USERS * LOGINS_PER_USER; // 200, 20 per address: the address budget is 30
const PASSWORD = 'bench-password-123';

/**
 * `--warm`: one burst of the same shape (from other addresses) runs first, unmeasured, so that
 * the measured one meets code the server has already run: what a burst costs a server that
 * has been up a while, against a fresh one (the default).
 */
const warm = process.argv.includes('--warm');

/**
 * `--open`: the steady client opens all its connections (8) before it starts, as a client that
 * has been up a while would have, instead of opening them as it needs them. A request the steady
 * client sends on a connection it opens during the burst waits behind the burst's 200 new
 * connections; with `--open` what it measures is the server's event loop alone.
 */
const openFirst = process.argv.includes('--open');

/** `--profile DIR`: the server writes a V8 CPU profile of its event loop there when it stops. */
const profileAt = process.argv.indexOf('--profile');
const profileFlags =
  profileAt === -1 ? [] : ['--cpu-prof', `--cpu-prof-dir=${process.argv[profileAt + 1] ?? '.'}`];

/**
 * Starts `node dist/src/main.js` and resolves once `/health` answers. Its logs (a line a request
 * at info) go to a file, as they would to a container's log driver: a pipe into this busy
 * process would hold the server back whenever this process reads late.
 */
async function startServer(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; base: string; log: string }> {
  execFileSync(process.execPath, ['scripts/ensure-build.mjs'], { stdio: 'inherit' });
  const port = await freePort();
  const log = join(mkdtempSync(join(tmpdir(), 'switchboard-login-burst-log-')), 'server.log');
  const out = openSync(log, 'a');
  // As `npm start` and the Dockerfile run it: with package.json's config.nodeFlags.
  const child = spawn(
    process.execPath,
    [...productNodeFlags('.'), ...profileFlags, 'dist/src/main.js'],
    {
      env: { PATH: process.env.PATH ?? '', ...env, HOST: '127.0.0.1', PORT: String(port) },
      stdio: ['ignore', out, out],
    },
  );
  closeSync(out);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const base = `http://127.0.0.1:${port}`;
  for (;;) {
    if (exited !== undefined) {
      throw new Error(`the server exited (${exited}) before ready:\n${readFileSync(log, 'utf8')}`);
    }
    const ok = await fetch(`${base}/health`).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return { child, base, log };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface Answer {
  ms: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data?: any;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

function client(base: string, dispatcher: Agent) {
  return async (
    query: string,
    variables: Record<string, unknown>,
    headers: Record<string, string> = {},
  ): Promise<Answer> => {
    const start = performance.now();
    const res = await request(`${base}/graphql`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.body.json()) as Omit<Answer, 'ms'>;
    return { ms: performance.now() - start, ...body };
  };
}

/**
 * The burst's client, a process of its own (bench/burst-client.mjs): sharing this process's
 * event loop, 200 requests and their answers would delay the steady query's own measurement,
 * which is about what the server does to others.
 */
function startBurster(base: string) {
  const child = spawn(process.execPath, [join(__dirname, 'burst-client.mjs')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<(line: string) => void> = [];
  // Its first line says it has warmed itself up (see bench/burst-client.mjs).
  const ready = new Promise<void>((resolve) => waiting.push(() => resolve()));
  lines.on('line', (line) => waiting.shift()?.(line));
  return {
    child,
    ready,
    send(
      requests: {
        query: string;
        variables: Record<string, unknown>;
        headers: Record<string, string>;
      }[],
    ): Promise<Array<Answer & { end: number }>> {
      return new Promise((resolve) => {
        waiting.push((line) => resolve(JSON.parse(line) as Array<Answer & { end: number }>));
        child.stdin!.write(`${JSON.stringify({ base, requests })}\n`);
      });
    },
  };
}

function p95(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!;
}

interface ThreadStat {
  tid: string;
  nice: number;
  /** CPU time used so far (user + system), in ms. */
  cpuMs: number;
}

/** The server's threads from /proc (Linux): nice values, and CPU time for the event loop's. */
function threads(pid: number): ThreadStat[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields 14, 15 (utime, stime) in clock ticks, 100 a second on Linux; 19 is the nice value.
      return {
        tid,
        nice: Number(fields[16]),
        cpuMs: (Number(fields[11]) + Number(fields[12])) * 10,
      };
    });
  } catch {
    return [];
  }
}

/** Clock ticks (100 a second) of CPU time: all cores' busy time, or one process's. */
function busyTicks(): number {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    const values = ticks.map(Number);
    return values.reduce((a, b) => a + b, 0) - values[3]! - values[4]!; // less idle and iowait
  } catch {
    return NaN;
  }
}

interface CpuSnapshot {
  at: number;
  /** ms of CPU so far: the server's event loop, its other threads (the hashing worker's among
   * them), the burst's client, this process (the steady query's client), and the machine. */
  loop: number;
  serverOthers: number;
  burster: number;
  bench: number;
  all: number;
}

function cpuSnapshot(server: number, burster: number): CpuSnapshot {
  const list = threads(server);
  const loop = list.find((t) => t.tid === String(server))?.cpuMs ?? NaN;
  return {
    at: performance.now(),
    loop,
    serverOthers: processTicks(server) * 10 - loop,
    burster: processTicks(burster) * 10,
    bench: processTicks('self') * 10,
    all: busyTicks() * 10,
  };
}

/** What each used between two snapshots, in ms of CPU a second of wall time (1000 = a core). */
function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): string {
  const per = (x: number, y: number) => ((1000 * (y - x)) / (b.at - a.at)).toFixed(0);
  const rest =
    b.all -
    a.all -
    (b.loop - a.loop) -
    (b.serverOthers - a.serverOthers) -
    (b.burster - a.burster) -
    (b.bench - a.bench);
  return `event loop ${per(a.loop, b.loop)}, hashing and other server threads ${per(a.serverOthers, b.serverOthers)}, burst client ${per(a.burster, b.burster)}, steady client ${per(a.bench, b.bench)}, the rest (PostgreSQL among it) ${((1000 * rest) / (b.at - a.at)).toFixed(0)}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

async function main() {
  // What one core hashes at this cost, measured here before the server runs (after a warm-up).
  bcrypt.hashSync(PASSWORD, COST);
  const samples: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    const start = performance.now();
    bcrypt.hashSync(PASSWORD, COST);
    samples.push(performance.now() - start);
  }
  const hashMs = samples.sort((a, b) => a - b)[2]!;
  const coreRate = 1000 / hashMs;
  const workers = Math.max(1, availableParallelism() - 1);

  const db = await scratchDatabase('switchboard_login_burst');
  const { child, base, log } = await startServer({
    ...db.env,
    NODE_ENV: 'production',
    JWT_SECRET: randomBytes(32).toString('base64url'),
    TRUST_PROXY: 'true',
    ADMIN_PASSWORD: randomBytes(16).toString('base64url'),
  });
  const burster = startBurster(base);
  await burster.ready;
  const stop = () => {
    child.kill('SIGTERM');
    burster.child.kill('SIGTERM');
  };
  process.on('exit', stop);

  // The steady client's connections, counted as it opens them.
  const steadyConnections: number[] = [];
  const connector = buildConnector({});
  const steadyAgent = new Agent({
    connections: 8,
    connect: (options, callback) => {
      steadyConnections.push(performance.now());
      connector(options, callback);
    },
  });
  const burstAgent = new Agent({ connections: LOGINS });
  const steadyGql = client(base, steadyAgent);
  const burstGql = client(base, burstAgent);

  // Users through the API, from addresses the burst does not use (each has its own budget).
  const emails: string[] = [];
  let token = '';
  for (let i = 0; i < USERS; i += 1) {
    const email = `burst-${i}-${randomBytes(3).toString('hex')}@example.com`;
    const res = await burstGql(
      `mutation($i: RegisterInput!) { register(input: $i) { accessToken } }`,
      { i: { email, password: PASSWORD, name: `Burst ${i}` } },
      { 'x-forwarded-for': `10.9.0.${1 + (i % 2)}` },
    );
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    emails.push(email);
    token = res.data.register.accessToken as string;
  }

  if (openFirst) {
    for (let round = 0; round < 3 && steadyConnections.length < 8; round += 1) {
      await Promise.all(
        Array.from({ length: 8 }, () =>
          steadyGql(
            `{ me { id } }`,
            {},
            { authorization: `Bearer ${token}`, 'x-forwarded-for': '10.8.0.1' },
          ),
        ),
      );
    }
  }
  // The steady query: a fixed schedule, each request on time whether or not the last answered.
  const steady: { at: number; ms: number }[] = [];
  const steadyFailures: string[] = [];
  const pending = new Set<Promise<void>>();
  let running = true;
  const t0 = performance.now();
  const ticker = (async () => {
    for (let n = 0; running; n += 1) {
      const wait = t0 + (n * 1000) / STEADY_PER_SECOND - performance.now();
      if (wait > 0) await sleep(wait);
      const at = performance.now();
      const call = steadyGql(
        `{ me { id } }`,
        {},
        { authorization: `Bearer ${token}`, 'x-forwarded-for': '10.8.0.1' },
      ).then((res) => {
        if (res.errors) steadyFailures.push(String(res.errors[0]?.extensions?.code));
        else steady.push({ at, ms: res.ms });
      });
      pending.add(call);
      void call.finally(() => pending.delete(call));
    }
  })();
  let beforeFrom = t0 + 1000;
  if (warm) {
    await burster.send(
      Array.from({ length: LOGINS }, (_, i) => ({
        query: `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`,
        variables: { i: { email: emails[i % USERS], password: PASSWORD } },
        headers: { 'x-forwarded-for': `10.3.0.${1 + (i % ADDRESSES)}` },
      })),
    );
    beforeFrom = performance.now() + 1000;
  }
  await sleep((BEFORE_SECONDS - 1) * 1000);

  // Where the machine's CPU went: the steady phase's last second, the burst's first half second
  // and the whole burst.
  const steadySecond = cpuSnapshot(child.pid!, burster.child.pid!);
  await sleep(1000);
  const eventLoop = String(child.pid);
  const cpuBefore = threads(child.pid!);
  const ticksBefore = {
    all: busyTicks(),
    server: processTicks(child.pid!),
    bench: processTicks('self'),
  };
  const atBurst = cpuSnapshot(child.pid!, burster.child.pid!);
  let atHalf: CpuSnapshot | undefined;
  const half = sleep(500).then(() => (atHalf = cpuSnapshot(child.pid!, burster.child.pid!)));
  const burstStart = performance.now();
  const loginsSent = burster.send(
    Array.from({ length: LOGINS }, (_, i) => ({
      query: `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`,
      variables: { i: { email: emails[i % USERS], password: PASSWORD } },
      headers: { 'x-forwarded-for': `10.1.0.${1 + (i % ADDRESSES)}` },
    })),
  );
  const logins = await loginsSent;
  const burstMs = performance.now() - burstStart;
  const atEnd = cpuSnapshot(child.pid!, burster.child.pid!);
  await half;
  const cpuAfter = threads(child.pid!);
  const others =
    busyTicks() -
    ticksBefore.all -
    (processTicks(child.pid!) - ticksBefore.server) -
    (processTicks('self') - ticksBefore.bench);
  const othersShare = Math.max(0, (100 * others * 10) / (burstMs * availableParallelism()));

  // The control: as many requests at once that hash nothing (an anonymous { plans { tier } }),
  // once the server is quiet again. What the steady query suffers then is the cost of taking
  // that many requests on one event loop, whatever they do.
  await sleep(2000);
  const controlStart = performance.now();
  const control = await burster.send(
    Array.from({ length: LOGINS }, (_, i) => ({
      query: `{ plans { tier } }`,
      variables: {},
      headers: { 'x-forwarded-for': `10.2.0.${1 + (i % ADDRESSES)}` },
    })),
  );
  const controlAnswered = performance.now() - controlStart;
  await sleep(Math.max(500, burstMs - controlAnswered));
  running = false;
  await ticker;
  await Promise.all(pending);

  // Measured from the second one: the first second of the run warms the connections up.
  const before = steady.filter((s) => s.at >= beforeFrom && s.at < burstStart).map((s) => s.ms);
  const inBurst = steady.filter((s) => s.at >= burstStart && s.at < burstStart + burstMs);
  const during = inBurst.map((s) => s.ms);
  const inControl = steady
    .filter((s) => s.at >= controlStart && s.at < controlStart + burstMs)
    .map((s) => s.ms);
  const controlRatio = p95(inControl) / p95(before);
  const accepted = logins.filter((l) => !l.errors);
  const refused = logins.filter((l) => l.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
  const other = logins.filter((l) => l.errors && !refused.includes(l));
  const retryAfters = refused.map((l) => Number(l.errors![0]!.extensions!.retryAfter));
  const lastAccepted = Math.max(...accepted.map((l) => l.end));
  const completionRate = accepted.length / (lastAccepted / 1000);
  const ratio = p95(during) / p95(before);
  const refusedP95 = p95(refused.map((l) => l.ms));
  const cpuOf = (list: ThreadStat[], tid: string) => list.find((t) => t.tid === tid)?.cpuMs ?? 0;
  const loopCpu = cpuOf(cpuAfter, eventLoop) - cpuOf(cpuBefore, eventLoop);
  const nices = new Map<number, number>();
  for (const t of cpuAfter) nices.set(t.nice, (nices.get(t.nice) ?? 0) + 1);
  const timeline: string[] = [];
  for (let from = 0; from < burstMs; from += 500) {
    const window = inBurst.filter(
      (s) => s.at - burstStart >= from && s.at - burstStart < from + 500,
    );
    timeline.push(`${(from / 1000).toFixed(1)}s: ${fmt(p95(window.map((s) => s.ms)))}`);
  }

  // The first half second request by request: when each was sent and how long it took; and the
  // connections the steady client opened in the burst (each waits behind the burst's own).
  const firstHalf = inBurst
    .filter((x) => x.at - burstStart < 500)
    .sort((a, b) => a.at - b.at)
    .map((x) => `${(x.at - burstStart).toFixed(0)}: ${x.ms.toFixed(0)}`)
    .join(', ');
  const openedInBurst = steadyConnections
    .filter((at) => at >= burstStart && at < burstStart + burstMs)
    .map((at) => (at - burstStart).toFixed(0));
  const lines = [
    '',
    `Switchboard login burst, ${db.label}, ${availableParallelism()} cores`,
    `  server   dist/src/main.js in its own process; NODE_ENV=production, TRUST_PROXY=true, a random`,
    `           JWT_SECRET; shipped defaults otherwise: BCRYPT_COST ${COST}, HASH_WORKERS unset`,
    `           (= ${workers} here), HASH_QUEUE_MAX unset (= 16), AUTH_RATE_PER_MINUTE 30,`,
    `           LOGIN_RATE_PER_EMAIL_PER_MINUTE 10 (no limit raised), LOG_LEVEL info (to a file)`,
    `  burst    ${LOGINS} logins at once from ${ADDRESSES} addresses (X-Forwarded-For), ${LOGINS / ADDRESSES} each (budget`,
    `           30/min), over ${USERS} users, ${LOGINS_PER_USER} each (budget 10/min); no client retries`,
    `  steady   { me { id } } at ${STEADY_PER_SECOND}/s, signed in, before the burst and throughout it`,
    warm
      ? `  warm     --warm: a burst of the same shape from other addresses ran first, unmeasured`
      : `  fresh    the server's first burst (--warm runs one first, unmeasured)`,
    openFirst
      ? `  open     --open: the steady client opened its 8 connections first`
      : `  lazy     the steady client opens a connection when its open ones are busy (--open: all first)`,
    '',
    `  steady p95 before the burst        ${fmt(p95(before))}  (${before.length} requests)`,
    `  steady p95 during the burst        ${fmt(p95(during))}  (${during.length} requests${steadyFailures.length ? `; ${steadyFailures.length} more failed: ${[...new Set(steadyFailures)].join(', ')}` : ''})`,
    `  ratio during / before              ${ratio.toFixed(2)}  (target <= 1.25: ${verdict(ratio <= 1.25)})`,
    `  steady p95 by 0.5 s of the burst   ${timeline.join(', ')}`,
    `  steady in the first 0.5 s          sent at (ms into the burst): took (ms): ${firstHalf}`,
    `  steady client's new connections    ${openedInBurst.length} during the burst${openedInBurst.length ? `, opened at ${openedInBurst.join(', ')} ms` : ''}; ${steadyConnections.length} in all${openFirst ? ' (--open: opened before the steady query started)' : ''}`,
    `  control: ${LOGINS} { plans { tier } } at once on new connections, no hashing (${control.filter((c) => !c.errors).length} answered without error${control.some((c) => c.errors) ? ` (others: ${[...new Set(control.filter((c) => c.errors).map((c) => String(c.errors![0]!.extensions?.code)))].join(', ')})` : ''}, last after ${fmt(controlAnswered)}):`,
    `  steady p95 in as long a window     ${fmt(p95(inControl))}  (${inControl.length} requests), ratio ${controlRatio.toFixed(2)}`,
    '',
    `  logins accepted                    ${accepted.length}, p95 ${fmt(p95(accepted.map((l) => l.ms)))} (the first answered after ${fmt(Math.min(...accepted.map((l) => l.end)))}, the last after ${fmt(lastAccepted)})`,
    `  logins refused (RATE_LIMITED)      ${refused.length}, p95 ${fmt(refusedP95)} (target <= 1000 ms: ${verdict(refusedP95 <= 1000)}), retryAfter ${Math.min(...retryAfters)}..${Math.max(...retryAfters)} s`,
    `  other answers                      ${other.length}${other.length ? ` (${[...new Set(other.map((l) => String(l.errors![0]!.extensions?.code)))].join(', ')})` : ''}`,
    `  burst length (last answer)         ${fmt(burstMs)}`,
    '',
    `  one core hashes at cost ${COST}         ${coreRate.toFixed(2)}/s (${fmt(hashMs)} a hash, hashSync in the bench process)`,
    `  accepted logins completed at       ${completionRate.toFixed(2)}/s = ${((100 * completionRate) / coreRate).toFixed(0)}% of one core${workers > 1 ? `, ${((100 * completionRate) / (coreRate * workers)).toFixed(0)}% of ${workers}` : ''} (target >= 80%: ${verdict(completionRate >= 0.8 * coreRate)})`,
    `  event loop CPU during the burst    ${fmt(loopCpu)} (${(loopCpu / LOGINS).toFixed(1)} ms a login request)`,
    `  server threads by nice value       ${cpuAfter.length ? [...nices].map(([nice, count]) => `${count} at ${nice}`).join(', ') : 'n/a (not Linux)'}`,
    `  other processes on this machine    ${Number.isNaN(othersShare) ? 'n/a' : `${othersShare.toFixed(0)}% of its CPU during the burst${db.env.DATABASE_URL ? ' (PostgreSQL included)' : ''}`}`,
    `  CPU, ms a second (1000 = one core, ${availableParallelism()} here), from /proc, 10 ms ticks:`,
    `    the steady query alone (1 s)     ${cpuBetween(steadySecond, atBurst)}`,
    `    the burst's first half second    ${atHalf ? cpuBetween(atBurst, atHalf) : 'n/a (the burst ended first)'}`,
    `    the whole burst                  ${cpuBetween(atBurst, atEnd)}`,
    `  server log                         ${log}`,
  ];
  console.log(lines.join('\n'));
  await steadyAgent.close();
  await burstAgent.close();
  burster.child.stdin!.end();
  stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
