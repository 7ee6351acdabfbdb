import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

/** What the benches that start their own server share: its database, its port, its CPU time. */

/**
 * A scratch database for a bench's server: `name` recreated on DATABASE_URL's server, or, without
 * it, a fresh embedded PGlite directory removed at exit. `env` is what the server needs.
 */
export async function scratchDatabase(
  name: string,
): Promise<{ env: Record<string, string>; label: string }> {
  const base = process.env.DATABASE_URL;
  if (!base) {
    const dataDir = mkdtempSync(join(tmpdir(), `${name}-`));
    process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
    return { env: { DATA_DIR: dataDir }, label: 'embedded PGlite (in the server process)' };
  }
  const admin = new Client({ connectionString: base });
  await admin.connect();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return { env: { DATABASE_URL: url.toString() }, label: `PostgreSQL (${url.host})` };
}

/** A port nobody listens on. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Clock ticks (1/100 s) of CPU time, user and system, a process has used; NaN off Linux. */
export function processTicks(pid: number | 'self'): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return NaN;
  }
}

/** The Node flags the product runs with in `dir` (package.json's config.nodeFlags), as `npm start`. */
export function productNodeFlags(dir: string): string[] {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    config?: { nodeFlags?: string };
  };
  return (pkg.config?.nodeFlags ?? '').split(/\s+/).filter(Boolean);
}
