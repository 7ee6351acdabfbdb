import { Client } from 'pg';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors } from '../helpers/graphql';
import { startPgBouncer, pgbouncerAvailable, type PgBouncer } from '../helpers/pgbouncer';

const describeBouncer = pgbouncerAvailable ? describe : describe.skip; // skipped without pgbouncer or PostgreSQL (CI requires both)

describeBouncer('through PgBouncer in transaction mode', () => {
  let bouncer: PgBouncer;
  beforeAll(async () => {
    // Two server connections per database (the least a server may start on: migrations read
    // their table on a second connection): two pinned transactions make everyone else queue.
    bouncer = await startPgBouncer({ poolSize: 2 });
  });
  afterAll(() => bouncer.stop());

  it('the server cancels a query that runs past the statement timeout (set on the database, not sent at connect)', async () => {
    const client = new Client({ connectionString: bouncer.url(process.env.TEST_DATABASE_URL!) });
    await client.connect();
    try {
      expect((await client.query('show statement_timeout')).rows[0].statement_timeout).toBe('5s');
      const started = performance.now();
      await expect(client.query('select pg_sleep(8)')).rejects.toMatchObject({ code: '57014' });
      expect(performance.now() - started).toBeLessThan(7_000);
    } finally {
      await client.end();
    }
  }, 20_000);

  it('a request that waits in PgBouncer’s queue past its deadline answers SERVICE_UNAVAILABLE, and the next one is served', async () => {
    const deadline = 1_500;
    const t: TestApp = await startTestApp({
      databaseUrl: bouncer.url(process.env.TEST_DATABASE_URL!),
      requestTimeoutMs: deadline,
    });
    const pins = [0, 1].map(
      () => new Client({ connectionString: bouncer.url(process.env.TEST_DATABASE_URL!) }),
    );
    try {
      const user = await t.seed.user();
      // Hold both server connections: PgBouncer queues every other client (for up to its
      // query_wait_timeout, 120 s by default).
      for (const pin of pins) {
        await pin.connect();
        await pin.query('begin');
        await pin.query('select 1');
      }
      const started = performance.now();
      const res = await t.gql(`{ me { id } }`, {}, user.accessToken);
      const took = performance.now() - started;
      expectErrorCode(res, 'SERVICE_UNAVAILABLE');
      expect(res.status).toBe(503);
      expect(took).toBeLessThan(deadline + 1_000);
      for (const pin of pins) await pin.query('commit');
      expectNoErrors(await t.gql(`{ me { id } }`, {}, user.accessToken));
    } finally {
      for (const pin of pins) await pin.end().catch(() => undefined);
      await t.close();
    }
  }, 30_000);
});
