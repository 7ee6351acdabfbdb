import type { Knex } from 'knex';

interface PgConnection {
  query(text: string): Promise<unknown>;
}
interface KnexConnections {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(connection: PgConnection): Promise<unknown>;
}

const NOBODY = `'00000000-0000-0000-0000-000000000000'::uuid`;

/** users_page's arguments after the cursor: both aggregates, from yesterday's midnight on. */
const USERS_PAGE_AGGREGATES = `true, true, (current_date - 1)::timestamptz,
  (current_date - 1)::timestamptz, current_date - 1, current_date, current_date::timestamptz, now()`;

/**
 * What a new PostgreSQL backend does on the first calls of the hot read path, done at start:
 * the session check, both task pages and the admin's users page (first page and after a
 * cursor: each branch of a PL/pgSQL function is planned when it first runs). PostgreSQL
 * compiles a PL/pgSQL function and plans its statements once per connection, and plans them
 * with the call's values for the first five calls before it keeps one plan (users_page keeps
 * its generic plan from the first). The session calls are for a session that does not exist,
 * which plans the same statements and reads nothing; the users page's read one user's row
 * with its aggregates over a day, and, after a cursor older than every row, none.
 */
export const WARM_STATEMENTS: readonly string[] = [
  `select * from session_account(${NOBODY}, ${NOBODY})`,
  `select * from api_key_account('')`,
  ...['session_tasks_page', 'session_tasks_page_slim'].flatMap((fn) => [
    `select * from ${fn}(${NOBODY}, ${NOBODY}, 21, null, null)`,
    `select * from ${fn}(${NOBODY}, ${NOBODY}, 21, now(), ${NOBODY})`,
  ]),
  `select * from users_page(1, null, null, ${USERS_PAGE_AGGREGATES})`,
  `select * from users_page(1, '-infinity', ${NOBODY}, ${USERS_PAGE_AGGREGATES})`,
];

/** Each statement this many times: the five planned with their values, then the kept plan. */
export const WARM_CALLS = 6;

/**
 * Opens `connections` pooled connections at once and runs `statements` on each, so that
 * the first requests after a start find their connections open and their backends ready
 * instead of paying for both (measured: 12-17 ms to connect and 15-19 ms for the first page
 * call on a new backend, against 0.2 ms later; a fresh server under 50 connections of
 * tasks-page load spent about 2.1-2.6 ms of PostgreSQL CPU a request in its first 2 s, 0.8-1.8
 * with the pool warmed, 0.4-0.5 once running).
 * The connections go back to the pool, which keeps them for DB_POOL_IDLE_TIMEOUT_MS. Resolves
 * with how many connections were warmed; a failure is returned, not thrown: a start never
 * fails for want of a warm pool.
 */
export async function warmPool(
  knex: Knex,
  connections: number,
  statements: readonly string[] = WARM_STATEMENTS,
): Promise<{ warmed: number; error?: unknown }> {
  const client = knex.client as unknown as KnexConnections;
  const acquired = await Promise.allSettled(
    Array.from({ length: connections }, () => client.acquireConnection()),
  );
  const open = acquired.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
  let error: unknown = acquired.find((a) => a.status === 'rejected')?.reason;
  try {
    await Promise.all(
      open.map(async (connection) => {
        for (const text of statements) {
          for (let i = 0; i < WARM_CALLS; i += 1) await connection.query(text);
        }
      }),
    );
  } catch (err) {
    error ??= err;
  } finally {
    await Promise.allSettled(open.map((connection) => client.releaseConnection(connection)));
  }
  return {
    warmed: error === undefined ? open.length : 0,
    ...(error === undefined ? {} : { error }),
  };
}
