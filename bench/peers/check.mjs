// Starts Switchboard (the built dist/, run `npm run build` at the repository root first), the
// PostGraphile peer and the raw-SQL peer on each bench database in turn, sends both pages for a
// few users to all three, and asserts that the normalized answers are equal (pages.mjs).
//
//   node --import ./polyfill.mjs check.mjs
//
// Env: PG_BASE_URL (default postgres://postgres@127.0.0.1:5432), CHECK_DATABASES (comma list,
// default switchboard_perf_0_01,switchboard_perf_1), CHECK_PORT (default 4641: Switchboard,
// +1 PostGraphile, +2 raw SQL), JWT_SECRET (default the bench's).
//
// Writes to the databases only what the bench does: one auth_sessions row per user it signs a
// token for (fixed ids, md5('bench-peers-check' || i), reused on every run). Switchboard's start
// applies its pending migrations, as the bench's start of it does (on these databases: the
// indexes of Migration20261201012944, which PostGraphile's users ordering needs).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { signAccessToken } from './auth.mjs';
import { pages } from './pages.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const base = process.env.PG_BASE_URL || 'postgres://postgres@127.0.0.1:5432';
const databases = (process.env.CHECK_DATABASES || 'switchboard_perf_0_01,switchboard_perf_1').split(
  ',',
);
const firstPort = Number(process.env.CHECK_PORT || 4641);
const secret = process.env.JWT_SECRET || 'perf-secret-0123456789-abcdefghijklmnopqrstuvwxyz!';

const children = new Set();
function start(name, args, cwd, env) {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  child.log = () => log;
  child.name = name;
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

async function waitFor(child, url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`${child.name} exited (${child.exitCode}):\n${child.log()}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${child.name} not ready after ${timeoutMs} ms:\n${child.log()}`);
}

async function post(port, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  });
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = { errors: [{ message: text.slice(0, 200) }] };
  }
  return { status: r.status, json };
}

const short = (id) => (id ? id.slice(0, 8) : '-');
const rejected = ({ status, json }) => status >= 400 || !!json.errors;

async function checkDatabase(db, report) {
  const url = `${base}/${db}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const {
    rows: [{ users }],
  } = await client.query('select count(*)::int as users from users');
  // Users to ask for: the busiest (1), an admin with fewer tasks (5), a plain user (6), one in the
  // middle, the last one, and one without tasks if there is one.
  const wanted = new Set([1, 5, 6, Math.ceil(users / 2), users]);
  const idle = await client.query(
    `select i from generate_series(1, $1::int) i
      where not exists (select 1 from tasks t where t.owner_id = md5('user' || i)::uuid) limit 1`,
    [users],
  );
  if (idle.rows[0]) wanted.add(idle.rows[0].i);
  const tokens = new Map();
  for (const i of wanted) {
    const { rows } = await client.query(
      `insert into auth_sessions (id, user_id, created_at)
       values (md5('bench-peers-check' || $1::int)::uuid, md5('user' || $1::int)::uuid, now())
       on conflict (id) do update set revoked_at = null
       returning id, user_id`,
      [i],
    );
    tokens.set(i, {
      userId: rows[0].user_id,
      token: signAccessToken({ secret, userId: rows[0].user_id, sessionId: rows[0].id }),
    });
  }
  const owned = await client.query(
    `select i, (select count(*)::int from tasks t where t.owner_id = md5('user' || i)::uuid) as n
       from unnest($1::int[]) i`,
    [[...wanted]],
  );
  const taskCounts = new Map(owned.rows.map((r) => [r.i, r.n]));
  await client.end();

  const ports = { switchboard: firstPort, postgraphile: firstPort + 1, rawSql: firstPort + 2 };
  const started = Date.now();
  const sb = start('switchboard', ['dist/src/main.js'], repo, {
    NODE_ENV: 'production',
    JWT_SECRET: secret,
    DATABASE_URL: url,
    PORT: String(ports.switchboard),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    QUERY_COST_BUCKET: '100000000',
    QUERY_COST_RESTORE_RATE: '100000000',
    ADMIN_PASSWORD: 'admin-password-123',
  });
  // Switchboard first: its start applies pending migrations (indexes) the PostGraphile schema sees.
  await waitFor(sb, `http://127.0.0.1:${ports.switchboard}/ready`, 300_000);
  const peerEnv = {
    NODE_ENV: 'production',
    GRAPHILE_ENV: 'production',
    JWT_SECRET: secret,
    DATABASE_URL: url,
    HOST: '127.0.0.1',
    DB_POOL_MAX: '10',
  };
  const pgl = start('postgraphile', ['--import', './polyfill.mjs', 'postgraphile.mjs'], here, {
    ...peerEnv,
    PORT: String(ports.postgraphile),
  });
  const raw = start('raw-sql', ['--import', './polyfill.mjs', 'raw-sql.mjs'], here, {
    ...peerEnv,
    PORT: String(ports.rawSql),
  });
  await Promise.all([
    waitFor(pgl, `http://127.0.0.1:${ports.postgraphile}/health`, 120_000),
    waitFor(raw, `http://127.0.0.1:${ports.rawSql}/health`, 30_000),
  ]);
  report.push(
    `${db}: ${users} users; servers ready in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );

  let failures = 0;
  const cases = [];
  for (const i of wanted) cases.push({ page: 'tasks', i });
  for (const i of [1, 5]) cases.push({ page: 'admin', i });
  for (const { page, i } of cases) {
    const { userId, token } = tokens.get(i);
    const ctx = { userId, now: new Date() };
    const answers = {};
    const normalized = {};
    let problem = null;
    for (const target of ['switchboard', 'postgraphile', 'rawSql']) {
      const body = pages[page][target](ctx);
      const answer = await post(ports[target], body, token);
      answers[target] = answer;
      try {
        normalized[target] = pages[page].normalize[target](answer.json);
      } catch (e) {
        problem ??= `${target}: ${e.message}`;
      }
    }
    if (!problem) {
      for (const target of ['postgraphile', 'rawSql']) {
        try {
          assert.deepStrictEqual(normalized[target], normalized.switchboard);
        } catch (e) {
          problem ??= `${target} differs from switchboard:\n${e.message.split('\n').slice(0, 30).join('\n')}`;
        }
      }
    }
    // The raw peer means to answer Switchboard's very `data` (same names, same cursors).
    const sameBytes =
      !problem &&
      JSON.stringify(answers.rawSql.json.data) === JSON.stringify(answers.switchboard.json.data);
    const n = normalized.switchboard;
    const what =
      page === 'tasks'
        ? `user ${String(i).padStart(5)} (owns ${String(taskCounts.get(i)).padStart(5)} tasks)`
        : `admin user ${i}`;
    if (problem) {
      failures++;
      report.push(`  FAIL ${page.padEnd(5)} ${what}: ${problem}`);
    } else {
      const sum =
        page === 'admin'
          ? ` tasks=${n.rows.reduce((a, r) => a + r.taskCount, 0)} tokens=${n.rows.reduce((a, r) => a + r.tokens, 0)}`
          : '';
      report.push(
        `  ok   ${page.padEnd(5)} ${what}: ${String(n.rows.length).padStart(2)} rows ${short(n.rows[0]?.id)}..${short(n.rows.at(-1)?.id)} next=${n.hasNextPage} cursor->${short(n.endCursorId)}${sum}; raw data byte-identical to Switchboard's: ${sameBytes ? 'yes' : 'NO'}`,
      );
      if (!sameBytes) failures++;
    }
  }

  // Refusals: no token on every target; a non-admin on the admin page (Switchboard only: the peers
  // check the token, not the role, see auth.mjs).
  const anon = {};
  for (const target of ['switchboard', 'postgraphile', 'rawSql']) {
    const body = pages.tasks[target]({ userId: tokens.get(1).userId });
    anon[target] = await post(ports[target], body, null);
  }
  const allRefuse = Object.values(anon).every(rejected);
  if (!allRefuse) failures++;
  report.push(
    `  ${allRefuse ? 'ok  ' : 'FAIL'} no token refused: ${Object.entries(anon)
      .map(
        ([t, a]) =>
          `${t} ${a.status} ${a.json.errors?.[0]?.extensions?.code ?? a.json.errors?.[0]?.message ?? 'ANSWERED'}`,
      )
      .join(', ')}`,
  );
  const other = await post(
    ports.postgraphile,
    pages.tasks.postgraphile({ userId: tokens.get(5).userId }),
    tokens.get(1).token,
  );
  if (!rejected(other)) failures++;
  report.push(
    `  ${rejected(other) ? 'ok  ' : 'FAIL'} postgraphile refuses another user's ownerId: ${other.status} ${other.json.errors?.[0]?.message}`,
  );
  const plain = tokens.get(6);
  const sbAdmin = await post(
    ports.switchboard,
    pages.admin.switchboard({ userId: plain.userId }),
    plain.token,
  );
  const pglAdmin = await post(
    ports.postgraphile,
    pages.admin.postgraphile({ userId: plain.userId }),
    plain.token,
  );
  const rawAdmin = await post(
    ports.rawSql,
    pages.admin.rawSql({ userId: plain.userId }),
    plain.token,
  );
  report.push(
    `  info non-admin (user 6) on the admin page: switchboard ${sbAdmin.json.errors?.[0]?.extensions?.code ?? 'ANSWERED'}, postgraphile ${pglAdmin.json.errors ? 'refused' : 'answered'}, raw ${rawAdmin.json.errors ? 'refused' : 'answered'} (peers check the token only)`,
  );

  await Promise.all([stop(pgl), stop(raw), stop(sb)]);
  return failures;
}

if (!existsSync(path.join(repo, 'dist/src/main.js'))) {
  console.error('dist/src/main.js is missing: run `npm run build` at the repository root first');
  process.exit(1);
}
const report = [];
let failures = 0;
try {
  for (const db of databases) failures += await checkDatabase(db, report);
} catch (e) {
  failures++;
  report.push(`ERROR ${e.stack ?? e}`);
} finally {
  for (const c of [...children]) await stop(c);
}
console.log(report.join('\n'));
console.log(
  failures ? `check: ${failures} failure(s)` : 'check: all three targets return the same rows',
);
process.exit(failures ? 1 : 0);
