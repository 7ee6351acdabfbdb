import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { FlushMode, ReflectMetadataProvider } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { SeedManager } from '@mikro-orm/seeder';
import { entities } from '../entities';
import { migrationsList } from '../migrations';

/**
 * MikroORM options shared by the server, the CLI and the tests. Only the CLI keeps the schema
 * snapshot (it diffs against it to write new migrations); the server never writes to src/.
 */
export function ormOptions(clientUrl: string, poolMax: number, forCli = false): Options {
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
    pool: { min: 0, max: poolMax, idleTimeoutMillis: 10_000 },
    driverOptions: { connection: { statement_timeout: 30_000, connectionTimeoutMillis: 5_000 } },
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
