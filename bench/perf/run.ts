/* eslint-disable no-console */
import 'reflect-metadata';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import jwt from 'jsonwebtoken';
import { Client } from 'pg';
import { ensureDataset } from './dataset';
import { productNodeFlags } from '../scratch';
import type { LoadResult } from './load';

/**
 * `npm run bench`: Switchboard side by side with PostGraphile 5 and a raw-SQL floor on the same
 * PostgreSQL database, each one Node process, driven from a separate load-generator process
 * (bench/perf/load.ts: Debian's `wrk` when it is installed, autocannon otherwise). Options (after `--`):
 *   --scale 1        data: 10k users, 1M tasks, 2M usage records (0.1 for a quick run)
 *   --seconds 20     measured seconds per run, after --warmup 5 seconds
 *   --runs 1         rounds per measurement: each round measures every target in turn (so
 *                    that what else the machine does lands on all alike); the median of the
 *                    rounds is printed, and with more than one round each round's ratio too
 *   --connections 50,200
 *   --only tasks,admin,me,mutation,invoke
 *   --profile DIR    Switchboard writes a V8 CPU profile there when it stops (--cpu-prof)
 *   --load wrk       the load generator: wrk (C; `apt-get install wrk`) or autocannon (Node).
 *                    Both share the machine's two cores with the servers; wrk costs about a
 *                    quarter of autocannon's CPU a request. Default: wrk when it is installed.
 * Needs DATABASE_URL (a PostgreSQL server where it may create `switchboard_perf_*` databases)
 * and the peers installed: `npm install --prefix bench/peers`.
 */
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) {
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
}
const scale = Number(args.get('scale') ?? 1);
const seconds = Number(args.get('seconds') ?? 20);
const warmup = Number(args.get('warmup') ?? 5);
const runs = Number(args.get('runs') ?? 1);
const connectionsList = (args.get('connections') ?? '50,200').split(',').map(Number);
const only = new Set((args.get('only') ?? 'tasks,admin,me,mutation,invoke').split(','));
const profileDir = args.get('profile');
const generator = (args.get('load') ?? (hasWrk() ? 'wrk' : 'autocannon')) as 'wrk' | 'autocannon';
if (generator !== 'wrk' && generator !== 'autocannon') throw new Error('--load wrk|autocannon');

function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    // wrk prints its version and exits 1; only a missing binary is ENOENT.
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

const ROOT = resolve(__dirname, '../..');
const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz!';
const POOL = Number(process.env.BENCH_DB_POOL_MAX ?? 20);

/** What Switchboard's shipped defaults would refuse in a load test, raised by their settings. */
const RAISED = {
  // One user sends thousands of queries a second here; the default budget (40,000 points,
  // 2,000 a second) is for dashboards, and would refuse most of the load.
  QUERY_COST_BUCKET: '100000000',
  QUERY_COST_RESTORE_RATE: '100000000',
};

/** Set once the bench stops its servers: an exit before that is reported with its log. */
let stopping = false;

interface Target {
  name: string;
  url: string;
  pid: number;
  process: ChildProcess;
}

async function waitForHttp(url: string, child: ChildProcess, log: () => string) {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`exited: ${log()}`);
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer: ${log()}`);
}

async function start(
  name: string,
  command: string,
  argv: string[],
  env: Record<string, string>,
  port: number,
  probe: string,
  cwd = ROOT,
): Promise<Target> {
  const taken = await fetch(`http://127.0.0.1:${port}${probe}`).then(
    () => true,
    () => false,
  );
  if (taken) throw new Error(`port ${port} is taken (a server from an earlier run?)`);
  const child = spawn(command, argv, {
    cwd,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4_000)));
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4_000)));
  const url = `http://127.0.0.1:${port}`;
  // However the bench ends, its servers end with it.
  process.on('exit', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => {
    if (!stopping) console.log(`${name} exited (${code ?? signal}) during the bench:\n${log}`);
  });
  await waitForHttp(`${url}${probe}`, child, () => log);
  return { name, url, pid: child.pid!, process: child };
}

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100;
}

async function statements(target: Target): Promise<number | null> {
  if (target.name !== 'Switchboard') return null;
  // A kept-alive connection the server closed while idle fails the first fetch: retry once.
  const read = () => fetch(`${target.url}/metrics`).then((res) => res.text());
  const text = await read().catch(read);
  const m = /^switchboard_db_statements_total (\d+)/m.exec(text);
  return m ? Number(m[1]) : null;
}

interface Measured {
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
  cpuMsPerRequest: number;
  /** The load generator's own CPU a request (it shares the machine with the servers). */
  loadCpuMsPerRequest: number;
  statementsPerRequest: number | null;
}

const tmp = mkdtempSync(join(tmpdir(), 'sb-bench-'));
let jobCount = 0;

/** One measurement of one target: warm-up, then the measured window. */
async function load(
  target: Target,
  path: string,
  connections: number,
  requests: { headers: Record<string, string>; body: string }[],
): Promise<Measured> {
  const file = join(tmp, `job-${(jobCount += 1)}.json`);
  // Warm-up first, untimed; then the measured window, with CPU and statements around it.
  writeFileSync(
    file,
    JSON.stringify({
      url: `${target.url}${path}`,
      connections,
      seconds: warmup,
      warmup: 0,
      generator,
      requests,
      errorMarker: '"errors"',
    }),
  );
  if (warmup > 0)
    execFileSync(process.execPath, ['scripts/run-ts.mjs', 'bench/perf/load.ts', file], {
      cwd: ROOT,
    });
  writeFileSync(
    file,
    JSON.stringify({
      url: `${target.url}${path}`,
      connections,
      seconds,
      warmup: 0,
      generator,
      requests,
      errorMarker: '"errors"',
    }),
  );
  const cpu0 = cpuSeconds(target.pid);
  const st0 = await statements(target);
  const out = execFileSync(process.execPath, ['scripts/run-ts.mjs', 'bench/perf/load.ts', file], {
    cwd: ROOT,
    maxBuffer: 1 << 24,
  }).toString();
  const cpu1 = cpuSeconds(target.pid);
  const st1 = await statements(target);
  const r = JSON.parse(out.trim().split('\n').pop()!) as LoadResult;
  const st = st0 === null || st1 === null ? null : (st1 - st0) / Math.max(1, r.requests);
  return {
    rps: r.rps,
    p50: r.p50,
    p95: r.p95,
    p99: r.p99,
    errors: r.errors,
    cpuMsPerRequest: ((cpu1 - cpu0) * 1000) / Math.max(1, r.requests),
    loadCpuMsPerRequest: r.loadCpuMsPerRequest,
    statementsPerRequest: st,
  };
}

/** The round of median req/s (its other figures with it); errors summed over every round. */
function median(results: Measured[]): Measured {
  const sorted = [...results].sort((a, b) => a.rps - b.rps);
  const middle = sorted[Math.floor(sorted.length / 2)]!;
  return { ...middle, errors: results.reduce((sum, m) => sum + m.errors, 0) };
}

/** An ES module from this CommonJS bench (swc would turn `import()` into `require`). */
const importEsm = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Row {
  scenario: string;
  connections: number;
  target: string;
  m: Measured;
}

function printRows(rows: Row[]) {
  const pgOf = (r: Row) =>
    rows.find(
      (x) =>
        x.scenario === r.scenario && x.connections === r.connections && x.target === 'PostGraphile',
    );
  console.log(
    `\n${'page'.padEnd(26)}${'conn'.padStart(5)}  ${'target'.padEnd(12)}${'req/s'.padStart(8)}${'p50'.padStart(7)}${'p95'.padStart(7)}${'p99'.padStart(7)}${'errors'.padStart(8)}${'CPU ms/req'.padStart(12)}${'load CPU'.padStart(10)}${'SQL/req'.padStart(9)}${'vs PostGraphile'.padStart(17)}`,
  );
  for (const r of rows) {
    const pg = pgOf(r);
    const ratio = pg && r.target !== 'PostGraphile' ? `${(r.m.rps / pg.m.rps).toFixed(2)}x` : '';
    console.log(
      `${r.scenario.padEnd(26)}${String(r.connections).padStart(5)}  ${r.target.padEnd(12)}${r.m.rps.toFixed(0).padStart(8)}${r.m.p50.toFixed(0).padStart(7)}${r.m.p95.toFixed(0).padStart(7)}${r.m.p99.toFixed(0).padStart(7)}${String(r.m.errors).padStart(8)}${r.m.cpuMsPerRequest.toFixed(2).padStart(12)}${r.m.loadCpuMsPerRequest.toFixed(2).padStart(10)}${(r.m.statementsPerRequest === null ? 'n/a' : r.m.statementsPerRequest.toFixed(2)).padStart(9)}${ratio.padStart(17)}`,
    );
  }
}

async function main() {
  const base = process.env.DATABASE_URL;
  if (!base)
    throw new Error(
      'Set DATABASE_URL to a PostgreSQL server (the bench builds its own database there)',
    );
  const dataset = await ensureDataset(base, scale);
  execFileSync(process.execPath, ['scripts/ensure-build.mjs'], { cwd: ROOT, stdio: 'inherit' });

  const common = { DATABASE_URL: dataset.url, JWT_SECRET: SECRET, DB_POOL_MAX: String(POOL) };
  // Switchboard first: its migrations make the indexes PostGraphile reads orderings from.
  const switchboard = await start(
    'Switchboard',
    process.execPath,
    [
      // As `npm start` and the Dockerfile run it: with package.json's config.nodeFlags.
      ...productNodeFlags(ROOT),
      ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${resolve(profileDir)}`] : []),
      'dist/src/main.js',
    ],
    {
      ...common,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      ADMIN_PASSWORD: 'bench-admin-password',
      ...RAISED,
    },
    4701,
    '/health',
  );
  const targets: Target[] = [switchboard];
  const peers = join(ROOT, 'bench/peers');
  let pages: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    pages = (await importEsm(join(peers, 'pages.mjs'))).pages;
    readFileSync(join(peers, 'node_modules/postgraphile/package.json'));
    for (const [name, file, port] of [
      ['PostGraphile', 'postgraphile.mjs', 4702],
      ['raw SQL', 'raw-sql.mjs', 4703],
    ] as const) {
      targets.push(
        await start(
          name,
          process.execPath,
          ['--import', './polyfill.mjs', file],
          { ...common, NODE_ENV: 'production', GRAPHILE_ENV: 'production' },
          port,
          '/health',
          peers,
        ).then(
          (t) => t,
          (err: unknown) => {
            throw new Error(`${name}: ${String(err)}`);
          },
        ),
      );
    }
  } catch (err) {
    console.log(
      `peers not started (${String(err).slice(0, 200)}): run \`npm ci --prefix bench/peers\``,
    );
  }
  // Sessions and tokens for the first users (users 1..5 are ADMIN, every user is ENTERPRISE).
  const db = new Client({ connectionString: dataset.url });
  await db.connect();
  const USERS = Math.min(500, dataset.users);
  const ids0 = Array.from({ length: USERS }, (_, i) => md5User(i + 1));
  const { rows: people } = await db.query<{ user_id: string; session_id: string }>(
    `insert into auth_sessions (id, user_id, created_at)
     select md5('bench-run' || i)::uuid, md5('user' || i)::uuid, now() from generate_series(1, $1::int) i
     on conflict (id) do update set revoked_at = null
     returning user_id, id as session_id`,
    [USERS],
  );
  // In the users' order (1, 2, ...): user 1 owns the most tasks.
  people.sort((a, b) => ids0.indexOf(a.user_id) - ids0.indexOf(b.user_id));
  const { rows: owned } = await db.query<{ owner_id: string; id: string }>(
    `select distinct on (owner_id) owner_id, id from tasks where owner_id = any($1::uuid[]) order by owner_id, created_at desc`,
    [people.map((p) => p.user_id)],
  );
  await db.end();
  const now = Math.floor(Date.now() / 1000);
  const tokenOf = new Map(
    people.map((p) => [
      p.user_id,
      jwt.sign({ sid: p.session_id, iat: now, exp: now + 86_400 }, SECRET, {
        algorithm: 'HS256',
        subject: p.user_id,
        issuer: 'switchboard',
        audience: 'switchboard-api',
      }),
    ]),
  );
  const ids = people.map((p) => p.user_id);
  const admins = Array.from({ length: 5 }, (_, i) => md5User(i + 1));
  const request = (userId: string, body: unknown) => ({
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenOf.get(userId)}` },
    body: JSON.stringify(body),
  });

  const rows: Row[] = [];
  const bySwitchboard = new Map(targets.map((t) => [t.name, t]));
  const scenario = async (
    name: string,
    perTarget: Record<string, { headers: Record<string, string>; body: string }[]>,
  ) => {
    for (const connections of connectionsList) {
      const measured = new Map<string, Measured[]>();
      for (let round = 1; round <= runs; round += 1) {
        for (const [targetName, requests] of Object.entries(perTarget)) {
          const target = bySwitchboard.get(targetName);
          if (!target) continue;
          const m = await load(target, '/graphql', connections, requests);
          measured.set(targetName, [...(measured.get(targetName) ?? []), m]);
          console.log(
            `  ${name} @${connections} ${targetName}${runs > 1 ? ` (round ${round})` : ''}: ${m.rps.toFixed(0)} req/s, p95 ${m.p95.toFixed(0)} ms, ${m.errors} errors`,
          );
        }
        const sb = measured.get('Switchboard')?.[round - 1];
        const pg = measured.get('PostGraphile')?.[round - 1];
        if (runs > 1 && sb && pg) {
          console.log(
            `  round ${round}: Switchboard ${(sb.rps / pg.rps).toFixed(2)}x PostGraphile`,
          );
        }
      }
      for (const [targetName, results] of measured) {
        rows.push({ scenario: name, connections, target: targetName, m: median(results) });
      }
    }
  };

  console.log(
    `\nbench: load from ${generator}; ${dataset.users} users, ${dataset.tasks} tasks, ${dataset.usage} usage records; ${seconds} s after ${warmup} s warm-up, median of ${runs}; pool ${POOL}; Switchboard in production with its shipped defaults except ${Object.entries(
      RAISED,
    )
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
  );
  const at = new Date();
  if (only.has('tasks') && pages) {
    const users = ids.slice(0, 200);
    await scenario("a user's newest 20 tasks", {
      Switchboard: users.map((u) => request(u, pages.tasks.switchboard({ userId: u }))),
      PostGraphile: users.map((u) => request(u, pages.tasks.postgraphile({ userId: u }))),
      'raw SQL': users.map((u) => request(u, pages.tasks.rawSql({ userId: u }))),
    });
  }
  if (only.has('admin') && pages) {
    await scenario('admin: 50 users + counts', {
      Switchboard: admins.map((u) => request(u, pages.admin.switchboard({ userId: u, now: at }))),
      PostGraphile: admins.map((u) => request(u, pages.admin.postgraphile({ userId: u, now: at }))),
      'raw SQL': admins.map((u) => request(u, pages.admin.rawSql({ userId: u, now: at }))),
    });
  }
  if (only.has('me')) {
    await scenario('me', {
      Switchboard: ids
        .slice(0, 200)
        .map((u) => request(u, { query: '{ me { id email name role } }' })),
    });
  }
  if (only.has('mutation')) {
    await scenario('updateTask (own task)', {
      Switchboard: owned.map((o) =>
        request(o.owner_id, {
          query:
            'mutation($id: ID!, $t: String!) { updateTask(id: $id, input: { title: $t }) { id title updatedAt } }',
          variables: { id: o.id, t: `Bench title ${o.id.slice(0, 8)}` },
        }),
      ),
    });
  }
  if (only.has('invoke')) {
    await scenario('invokeTool text-stats', {
      Switchboard: ids.map((u) =>
        request(u, {
          query:
            'mutation { invokeTool(slug: "text-stats", input: { text: "The bench calls a built-in tool. It counts words." }) { output usage { totalTokens } } }',
        }),
      ),
    });
  }
  printRows(rows);
  const rss =
    Number(
      readFileSync(`/proc/${switchboard.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)?.[1] ?? 0,
    ) / 1024;
  console.log(`\nSwitchboard RSS after the runs: ${rss.toFixed(0)} MiB`);
  stopping = true;
  for (const t of targets) t.process.kill('SIGTERM');
}

function md5User(i: number): string {
  const hex = createHash('md5').update(`user${i}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
process.on('SIGINT', () => process.exit(130));
