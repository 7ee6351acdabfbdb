/* eslint-disable no-console */
import 'reflect-metadata';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import jwt from 'jsonwebtoken';
import { Client, Pool } from 'pg';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { startEmbeddedDatabase } from '../src/db/embedded';

/**
 * `npm run bench`: throughput and latency of typical operations over HTTP, next to a raw-SQL
 * floor (the same page query through `pg` behind a bare Fastify route, with the same JWT
 * check): what a hand-written endpoint would cost. Uses DATABASE_URL's server (a scratch
 * database `switchboard_bench`, recreated) or the embedded PGlite. BENCH_SECONDS sets the
 * length of each run (default 10), BENCH_CONNECTIONS the concurrency (default 10).
 */
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';

async function database(): Promise<{ url: string; stop: () => Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) {
    const db = await startEmbeddedDatabase(null, { maxConnections: 32 });
    return { url: db.url, stop: () => db.stop() };
  }
  const admin = new Client({ connectionString: base });
  await admin.connect();
  await admin.query('drop database if exists switchboard_bench with (force)');
  await admin.query('create database switchboard_bench');
  await admin.end();
  const url = new URL(base);
  url.pathname = '/switchboard_bench';
  return { url: url.toString(), stop: async () => undefined };
}

async function gql(base: string, query: string, token?: string, variables = {}) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const body = (await res.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

async function measure(name: string, opts: autocannon.Options) {
  const result = await autocannon({ connections, duration: seconds, ...opts });
  const bad = result.non2xx + result.errors;
  console.log(
    `${name.padEnd(44)} ${result.requests.average.toFixed(0).padStart(7)} req/s   p50 ${String(result.latency.p50).padStart(4)} ms   p99 ${String(result.latency.p99).padStart(4)} ms${bad ? `   (${bad} failed)` : ''}`,
  );
  return result;
}

async function main() {
  const db = await database();
  const config = {
    ...loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'silent',
      JWT_SECRET: SECRET,
      BCRYPT_COST: '10',
      ADMIN_PASSWORD: 'bench-admin-password',
    }),
  };
  const app = await createApp(config);
  const base = await app.listen();

  const reg = await gql(
    base,
    `mutation { register(input: { email: "bench@example.com", password: "bench-password", name: "Bench" }) { accessToken user { id } } }`,
  );
  const token: string = reg.register.accessToken;
  const userId: string = reg.register.user.id;
  for (let i = 0; i < 200; i += 1) {
    await gql(base, `mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }`, token, {
      i: {
        title: `Task ${i}`,
        description: `Benchmark task number ${i}`,
        priority: ['LOW', 'MEDIUM', 'HIGH', 'URGENT'][i % 4],
      },
    });
  }

  // The floor: the same page, by hand, with the same credential check.
  const pool = new Pool({ connectionString: db.url, max: config.dbPoolMax });
  const floor = Fastify();
  floor.post('/tasks', async (request, reply) => {
    const header = request.headers.authorization ?? '';
    let claims: jwt.JwtPayload;
    try {
      claims = jwt.verify(header.slice(7), SECRET, {
        algorithms: ['HS256'],
        issuer: 'switchboard',
        audience: 'switchboard-api',
      }) as jwt.JwtPayload;
    } catch {
      return reply.code(401).send({ error: 'unauthenticated' });
    }
    const viewer = await pool.query(
      `select u.id from users u join auth_sessions s on s.user_id = u.id and s.id = $1 and s.revoked_at is null where u.id = $2 and u.is_active`,
      [claims.sid, claims.sub],
    );
    if (!viewer.rows[0]) return reply.code(401).send({ error: 'unauthenticated' });
    const rows = await pool.query(
      `select id, title, status, priority, due_date from tasks where owner_id = $1 order by created_at desc, id desc limit 51`,
      [claims.sub],
    );
    return { data: { tasks: { nodes: rows.rows.slice(0, 50) } } };
  });
  const floorUrl = await floor.listen({ port: 0, host: '127.0.0.1' });

  const post = (body: object, auth = true) => ({
    method: 'POST' as const,
    headers: {
      'content-type': 'application/json',
      ...(auth ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });

  console.log(
    `\nSwitchboard bench: ${seconds} s per run, ${connections} connections, ${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'}\n`,
  );
  await measure('GET /health', { url: `${base}/health` });
  await measure('plans (public, no auth)', {
    url: `${base}/graphql`,
    ...post({ query: '{ plans { tier } }' }, false),
  });
  await measure('me { id email }', {
    url: `${base}/graphql`,
    ...post({ query: '{ me { id email } }' }),
  });
  await measure('tasks(first: 50) with owner', {
    url: `${base}/graphql`,
    ...post({
      query: '{ tasks(first: 50) { nodes { id title status priority dueDate owner { id } } } }',
    }),
  });
  await measure('tasks(first: 50) + totalCount + filter', {
    url: `${base}/graphql`,
    ...post({
      query:
        '{ tasks(first: 50, filter: { priority: [HIGH, URGENT] }) { totalCount nodes { id title } } }',
    }),
  });
  await measure('floor: same page by hand (pg + jwt)', { url: `${floorUrl}/tasks`, ...post({}) });
  const rss = process.memoryUsage().rss / 1024 / 1024;
  console.log(
    `\nRSS after the runs (server, floor and load generator in one process): ${rss.toFixed(0)} MiB`,
  );
  console.log(`user ${userId} has 200 tasks`);

  await floor.close();
  await pool.end();
  await app.close();
  await db.stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
