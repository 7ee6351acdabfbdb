import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { FlushMode, ReflectMetadataProvider } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { SeedManager } from '@mikro-orm/seeder';
import { entities } from '../entities';
import { migrationsList } from '../migrations';
import { guardConnection } from './pool-guard';

export interface ConnectionSettings {
  poolMax: number;
  /**
   * How long an unused connection stays open (default 10 s, for the CLI). Reopening one costs
   * the request that needs it the connect and, on PostgreSQL, a new backend that compiles the
   * session check and page functions again on its first call.
   */
  idleTimeoutMs?: number;
  /** How long a new connection may take to be established. */
  connectTimeoutMs: number;
  /** Called with the text of every statement sent (metrics, tests). */
  onQuery?: (text: string) => void;
}

/**
 * MikroORM options shared by the server, the CLI and the tests. Only the CLI keeps the schema
 * snapshot (it diffs against it to write new migrations); the server never writes to src/.
 */
export function ormOptions(
  clientUrl: string,
  settings: ConnectionSettings,
  forCli = false,
): Options {
  return defineConfig({
    clientUrl,
    entities,
    metadataProvider: ReflectMetadataProvider,
    discovery: { disableDynamicFileAccess: true, requireEntitiesArray: true },
    forceUtcTimezone: true,
    allowGlobalContext: false,
    // Every write flushes explicitly; no query pays for a change-set scan of the identity map.
    flushMode: FlushMode.COMMIT,
    ensureDatabase: false,
    pool: {
      min: 0,
      max: settings.poolMax,
      idleTimeoutMillis: settings.idleTimeoutMs ?? 10_000,
      // Every connection's queries are bounded by the request deadline (src/db/pool-guard.ts).
      afterCreate: (connection: unknown, done: (err: Error | null, c: unknown) => void) => {
        guardConnection(connection, settings.onQuery);
        done(null, connection);
      },
    },
    driverOptions: {
      // knex prints pool warnings with console.log; the server logs connection trouble itself.
      log: { warn: () => undefined },
      // Client-side only: nothing here travels in the startup packet (PgBouncer refuses
      // session parameters there). Server-side timeouts live on the database: server-settings.ts.
      connection: {
        connectionTimeoutMillis: settings.connectTimeoutMs,
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
      },
    },
    migrations: {
      migrationsList,
      tableName: 'mikro_orm_migrations',
      snapshotName: '.snapshot-switchboard',
      transactional: true,
      allOrNothing: true,
      snapshot: forCli,
      path: 'src/migrations',
      pathTs: 'src/migrations',
      emit: 'ts',
      silent: true,
    },
    seeder: { path: 'src/seeders', pathTs: 'src/seeders' },
    extensions: [Migrator, SeedManager],
  });
}
