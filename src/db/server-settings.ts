import { Client } from 'pg';
import type { Logger } from 'pino';
import { STARTUP_LOCK } from './startup-lock';

export interface ServerTimeouts {
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
}

export interface DatabaseInfo {
  /** PGlite (PostgreSQL in WebAssembly, in this process): no timeout can fire while it works. */
  embedded: boolean;
}

const SETTINGS = [
  ['statement_timeout', 'statementTimeoutMs'],
  ['lock_timeout', 'lockTimeoutMs'],
  ['idle_in_transaction_session_timeout', 'idleInTransactionTimeoutMs'],
] as const;

/** A PostgreSQL duration setting as milliseconds ('5s', '5000ms', '0'). */
function toMs(value: string): number {
  const m = /^(\d+)\s*(ms|s|min|h|d)?$/.exec(value.trim());
  if (!m) return NaN;
  const unit = { ms: 1, s: 1_000, min: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 'ms']!;
  return Number(m[1]) * unit;
}

/**
 * Puts the server-side timeouts where a connection pooler keeps them: on the database (or, when
 * the role may not alter the database, on the role in this database), never as startup
 * parameters, which PgBouncer refuses, and never as a SET per request, which costs a round trip
 * and leaks between clients in transaction pooling. They apply to sessions opened afterwards,
 * so this runs before the pool opens any. When neither may be altered, what is in force is read
 * back and each setting that is off or looser than wanted is named in a warning; the server
 * still starts. A setting of 0 in config leaves that one alone.
 */
export async function prepareDatabase(
  url: string,
  timeouts: ServerTimeouts,
  logger: Logger,
  connectTimeoutMs: number,
): Promise<DatabaseInfo> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs });
  await client.connect();
  try {
    const version = (await client.query<{ v: string }>('select version() as v')).rows[0]!.v;
    if (/emscripten|wasm/i.test(version)) return { embedded: true };
    const wanted = SETTINGS.filter(([, key]) => timeouts[key] > 0).map(
      ([name, key]) => [name, `${timeouts[key]}ms`] as const,
    );
    if (wanted.length === 0) return { embedded: false };
    // Instances starting together would update the same catalog row at once ("tuple
    // concurrently updated"): one at a time, and only when something differs.
    const inPlace = async (role: boolean) => {
      const { rows } = await client.query<{ setconfig: string[] | null }>(
        `select setconfig from pg_db_role_setting
          where setdatabase = (select oid from pg_database where datname = current_database())
            and setrole = ${role ? '(select oid from pg_roles where rolname = current_user)' : '0'}`,
      );
      const set = new Set(rows[0]?.setconfig ?? []);
      return wanted.every(([name, value]) => set.has(`${name}=${value}`));
    };
    for (const role of [false, true]) {
      const target = role
        ? `'alter role current_user in database ' || quote_ident(current_database())`
        : `'alter database ' || quote_ident(current_database())`;
      await client.query('begin');
      try {
        await client.query(`select pg_advisory_xact_lock(${STARTUP_LOCK})`);
        if (!(await inPlace(role))) {
          const statements = wanted.map(([name, value]) => `${name} = ''${value}''`);
          await client.query(
            `do $$ begin ${statements.map((st) => `execute ${target} || ' set ${st}';`).join(' ')} end $$`,
          );
          logger.info(
            { settings: Object.fromEntries(wanted), on: role ? 'role' : 'database' },
            'database timeouts set for new sessions',
          );
        }
        await client.query('commit');
        return { embedded: false };
      } catch (err) {
        await client.query('rollback');
        if ((err as { code?: string }).code !== '42501') throw err; // only "insufficient privilege"
      }
    }
    // Not allowed to set them: say which ones are missing, by name, and go on.
    const loose: string[] = [];
    for (const [name, value] of wanted) {
      const shown = (await client.query<Record<string, string>>(`show ${name}`)).rows[0]![name]!;
      const inForce = toMs(shown);
      if (!(inForce > 0) || inForce > toMs(value))
        loose.push(`${name} is ${shown} (want ${value})`);
    }
    if (loose.length > 0) {
      logger.warn(
        { settings: loose },
        `database timeouts not set and this role may not set them: ask an administrator to run ALTER DATABASE ... SET for ${loose.map((l) => l.split(' ')[0]).join(', ')}`,
      );
    }
    return { embedded: false };
  } finally {
    await client.end();
  }
}
