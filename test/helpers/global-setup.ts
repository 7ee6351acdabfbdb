import 'reflect-metadata';
import { createScratchDatabase } from './scratch-database';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../src/db/embedded';

declare global {
  var __embeddedDb: EmbeddedDatabase | undefined;
  var __testDbName: string | undefined;
}

/**
 * One database per test run: a fresh database on DATABASE_URL's server when it is set (dropped
 * after), an in-memory PGlite otherwise. Migrations and the seed run once here, so that test
 * files can start apps in parallel.
 */
export default async function globalSetup(): Promise<void> {
  const base = process.env.DATABASE_URL;
  if (base) {
    const db = await createScratchDatabase(base, 'switchboard_test');
    process.env.TEST_DATABASE_URL = db.url;
    globalThis.__testDbName = db.name;
  } else {
    const db = await startEmbeddedDatabase(null, { maxConnections: 64 });
    process.env.TEST_DATABASE_URL = db.url;
    globalThis.__embeddedDb = db;
  }
  // Asynchronously: with PGlite the database is served from this very process.
  await promisify(execFile)(
    process.execPath,
    ['scripts/run-ts.mjs', 'test/helpers/prepare-db.ts'],
    {
      env: process.env,
    },
  );
}
