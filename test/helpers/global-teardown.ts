import { Client } from 'pg';

export default async function globalTeardown(): Promise<void> {
  if (globalThis.__embeddedDb) await globalThis.__embeddedDb.stop();
  const name = globalThis.__testDbName;
  if (name && process.env.DATABASE_URL) {
    const admin = new Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
}
