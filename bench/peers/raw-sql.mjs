// The raw-SQL floor of the performance bench: Fastify 5 (the same HTTP framework as Switchboard
// and the PostGraphile peer) and a pg Pool, no GraphQL. Each request runs ONE hand-written,
// parameterized, unnamed statement (pages.mjs: `sql`) and answers `{"data": ...}` shaped like
// Switchboard's answer (same field names, same cursors; no `extensions.cost`).
//
//   NODE_ENV=production DATABASE_URL=postgres://... PORT=4603 JWT_SECRET=... [DB_POOL_MAX=20] \
//   [HOST=127.0.0.1] node --import ./polyfill.mjs raw-sql.mjs
//   (the polyfill is not needed by this file, only kept for one way of starting both peers)
//
// Request: POST /graphql, JSON body {"operationName": "TasksPage" | "AdminPage", "variables": {...}}
// (a `query` field, if sent, is ignored: the page is chosen by operationName).
//   TasksPage: the caller's newest 20 tasks; the owner is the token's subject (no variable).
//   AdminPage: variables.from (ISO time, required), variables.to (optional, default now).
// Authentication: the Bearer token is verified as Switchboard does (auth.mjs), without the
// session/user lookup Switchboard adds; no token or a bad one is 401 UNAUTHENTICATED.
import Fastify from 'fastify';
import pg from 'pg';
import { makeTokenVerifier } from './auth.mjs';
import { pageByOperation } from './pages.mjs';

const env = process.env;
const databaseUrl = env.DATABASE_URL;
if (!databaseUrl) throw new Error('DATABASE_URL: required');
const port = Number(env.PORT || 4603);
const host = env.HOST || '127.0.0.1';
const poolMax = Number(env.DB_POOL_MAX || 20);
const verifyToken = makeTokenVerifier(env);

// TimeZone UTC pins created_at::text (the cursor key) to Switchboard's form; a startup
// parameter, so it costs nothing per query.
const pool = new pg.Pool({
  connectionString: databaseUrl,
  max: poolMax,
  options: '-c TimeZone=UTC',
});
pool.on('error', (e) => console.error('pg pool error', e));

const error = (message, code) => ({ errors: [{ message, extensions: { code } }], data: null });

const app = Fastify({ logger: false });
app.get('/health', async () => ({ status: 'ok' }));
app.post('/graphql', async (request, reply) => {
  const claims = verifyToken(request.headers.authorization);
  if (!claims) return reply.code(401).send(error('Sign in to do this', 'UNAUTHENTICATED'));
  const body = request.body ?? {};
  const page = pageByOperation(body.operationName);
  if (!page) return reply.code(400).send(error('Unknown operationName', 'BAD_USER_INPUT'));
  const params = page.sqlParams(claims, body.variables);
  if (!params) return reply.code(400).send(error('Bad variables', 'BAD_USER_INPUT'));
  const { rows } = await pool.query(page.sql, params);
  return { data: page.sqlData(rows) };
});

await app.listen({ port, host });
console.log(`raw-sql listening on http://${host}:${port}/graphql (pool ${poolMax})`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await app.close();
  await pool.end();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
