import { Client } from 'pg';
import { createApp, type App } from '../../src/app';
import { startPgBouncer, pgbouncerAvailable, type PgBouncer } from '../helpers/pgbouncer';
import { createScratchDatabase } from '../helpers/scratch-database';
import { testConfig } from '../helpers/test-config';

// A fresh database is made on the PostgreSQL server of DATABASE_URL; PGlite has no such server.
const onPostgres = Boolean(process.env.DATABASE_URL);
const describePg = onPostgres ? describe : describe.skip; // skipped on PGlite: no server to make databases on
const describeBouncer = pgbouncerAvailable ? describe : describe.skip; // skipped without pgbouncer (CI requires it)

async function count(url: string, sql: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>(sql)).rows[0]!.n);
  } finally {
    await client.end();
  }
}

/** Starts `n` instances at the same instant on an empty database; all must come up. */
async function expectStartTogether(n: number, via: (url: string) => string) {
  const db = await createScratchDatabase(process.env.DATABASE_URL!, 'switchboard_start');
  const apps: App[] = [];
  try {
    const results = await Promise.allSettled(
      Array.from({ length: n }, () =>
        createApp(testConfig({ databaseUrl: via(db.url), dbPoolMax: 2 })),
      ),
    );
    for (const r of results) if (r.status === 'fulfilled') apps.push(r.value);
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    expect(failures).toEqual([]);
    // Each migration ran once, the built-in tools and the first admin exist once.
    const migrations = await count(db.url, 'select count(*) as n from mikro_orm_migrations');
    const distinct = await count(
      db.url,
      'select count(distinct name) as n from mikro_orm_migrations',
    );
    expect(migrations).toBe(distinct);
    expect(migrations).toBeGreaterThan(0);
    expect(await count(db.url, 'select count(*) as n from tools where endpoint_url is null')).toBe(
      3,
    );
    expect(await count(db.url, "select count(*) as n from users where role = 'ADMIN'")).toBe(1);
  } finally {
    await Promise.all(apps.map((a) => a.close()));
    await db.drop();
  }
}

describePg('instances started together on an empty database', () => {
  it('all come up, every time (direct connections)', async () => {
    for (let round = 0; round < 3; round += 1) await expectStartTogether(3, (url) => url);
  }, 60_000);
});

describeBouncer('instances started together through PgBouncer (transaction pooling)', () => {
  let bouncer: PgBouncer;
  beforeAll(async () => {
    bouncer = await startPgBouncer();
  });
  afterAll(() => bouncer.stop());

  it('all come up, every time', async () => {
    for (let round = 0; round < 3; round += 1)
      await expectStartTogether(3, (url) => bouncer.url(url));
  }, 60_000);
});

describePg('a release step that migrates (MIGRATE_ON_START=false)', () => {
  it('refuses to start with pending migrations, and starts once `npm run migrate` has run', async () => {
    const db = await createScratchDatabase(process.env.DATABASE_URL!, 'switchboard_release');
    try {
      await expect(
        createApp(testConfig({ databaseUrl: db.url, migrateOnStart: false })),
      ).rejects.toThrow(/pending and MIGRATE_ON_START=false: run `npm run migrate`/);
      const { execFile } = await import('node:child_process');
      const code = await new Promise<number | null>((resolve) => {
        const child = execFile(
          process.execPath,
          ['scripts/run-ts.mjs', 'src/migrate-main.ts'],
          { env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'silent' } },
          () => undefined,
        );
        child.on('exit', resolve);
      });
      expect(code).toBe(0);
      const app = await createApp(testConfig({ databaseUrl: db.url, migrateOnStart: false }));
      await app.close();
    } finally {
      await db.drop();
    }
  }, 60_000);
});
