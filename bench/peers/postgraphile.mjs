// PostGraphile 5 peer of the performance bench: the Amber preset plus @graphile/pg-aggregates and
// postgraphile-plugin-connection-filter, over DATABASE_URL's `public` schema, served by grafserv's
// Fastify 5 adapter (Switchboard runs on Fastify 5 too, so the HTTP layer is the same for both).
//
//   NODE_ENV=production GRAPHILE_ENV=production DATABASE_URL=postgres://... PORT=4602 \
//   JWT_SECRET=... [DB_POOL_MAX=20] [HOST=127.0.0.1] node --import ./polyfill.mjs postgraphile.mjs
//
// Production behaviour: no GraphiQL (Ruru), no explain, no watch mode, no websockets, no GET
// queries; nothing beyond the two named plugins. One process, one pg Pool of DB_POOL_MAX.
//
// Authentication (what we chose, see also auth.mjs): PostGraphile 5 has no built-in JWT check
// worth using here (its `PgLazyJWTPreset` accepts anonymous requests and turns the claims into
// pgSettings, which makes every request a transaction: BEGIN, set_config, query, COMMIT). Its
// documented way is `preset.grafast.context`; ours verifies the Bearer token exactly as
// Switchboard does (HS256, issuer `switchboard`, audience `switchboard-api`, subject = user id)
// and rejects a request without a valid one (HTTP 401). No pgSettings and no RLS: the pages
// filter by the owner id passed as the `$ownerId` variable, and the callback refuses (403) a
// request whose `$ownerId` is not the token's subject, so a caller only reads its own tasks
// page. The admin page is only checked for a valid token: the role lives in the database, and
// reading it would be the extra statement Switchboard makes and this peer does not.
//
// At start the two bench documents (pages.mjs) are validated against the built schema: a missing
// index makes PostGraphile leave out an ordering (e.g. `CREATED_AT_DESC` on users needs
// users(created_at, id), which Switchboard's migrations create), so the peer refuses to start
// rather than answer every request with a validation error.
import Fastify from 'fastify';
import { parse, validate } from 'graphql';
import pg from 'pg';
import { postgraphile } from 'postgraphile';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/fastify/v5';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { PgAggregatesPreset } from '@graphile/pg-aggregates';
import { PostGraphileConnectionFilterPreset } from 'postgraphile-plugin-connection-filter';
import { makeTokenVerifier } from './auth.mjs';
import { pages } from './pages.mjs';

if (typeof Promise.withResolvers !== 'function') {
  console.error(
    'Promise.withResolvers is missing: start with `node --import ./polyfill.mjs postgraphile.mjs`',
  );
  process.exit(1);
}

const env = process.env;
const databaseUrl = env.DATABASE_URL;
if (!databaseUrl) throw new Error('DATABASE_URL: required');
const port = Number(env.PORT || 4602);
const host = env.HOST || '127.0.0.1';
const poolMax = Number(env.DB_POOL_MAX || 20);
const verifyToken = makeTokenVerifier(env);

class HttpError extends Error {
  constructor(statusCode, message, code) {
    super(message);
    this.statusCode = statusCode;
    this.extensions = { code };
  }
}

const pool = new pg.Pool({ connectionString: databaseUrl, max: poolMax });
pool.on('error', (e) => console.error('pg pool error', e));

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset, PgAggregatesPreset, PostGraphileConnectionFilterPreset],
  pgServices: [makePgService({ pool, schemas: ['public'] })],
  grafserv: {
    port,
    host,
    graphqlPath: '/graphql',
    graphiql: false,
    graphiqlOnGraphQLGET: false,
    graphqlOverGET: false,
    watch: false,
    websockets: false,
  },
  grafast: {
    explain: false,
    context(requestContext, args) {
      const claims = verifyToken(requestContext.node?.req?.headers?.authorization);
      if (!claims) throw new HttpError(401, 'Sign in to do this', 'UNAUTHENTICATED');
      const ownerId = args.variableValues?.ownerId;
      if (ownerId !== undefined && ownerId !== claims.sub) {
        throw new HttpError(403, 'Only your own tasks', 'FORBIDDEN');
      }
      return { viewerId: claims.sub };
    },
  },
};

const pgl = postgraphile(preset);
const { schema } = await pgl.getSchemaResult();
for (const [name, page] of Object.entries(pages)) {
  const { query } = page.postgraphile({
    userId: '00000000-0000-0000-0000-000000000000',
    now: new Date(),
  });
  const errors = validate(schema, parse(query));
  if (errors.length) {
    console.error(
      `postgraphile: the ${name} page does not validate against this database's schema:`,
    );
    for (const e of errors) console.error(`  ${e.message}`);
    console.error(
      "  (run Switchboard's migrations on this database first: they create the indexes PostGraphile orders by)",
    );
    await pgl.release();
    await pool.end();
    process.exit(1);
  }
}

const app = Fastify({ logger: false });
app.get('/health', async () => ({ status: 'ok' }));
const serv = pgl.createServ(grafserv);
await serv.addTo(app);
await app.listen({ port, host });
console.log(`postgraphile listening on http://${host}:${port}/graphql (pool ${poolMax})`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await app.close();
  await pgl.release(); // releases the grafserv instance too
  await pool.end();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
