import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { ReflectMetadataProvider } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { SeedManager } from '@mikro-orm/seeder';
import { entities } from '../entities';
import { migrationsList } from '../migrations';

/** MikroORM options shared by the server, the CLI and the tests. */
export function ormOptions(clientUrl: string, poolMax: number): Options {
  return defineConfig({
    clientUrl,
    entities,
    metadataProvider: ReflectMetadataProvider,
    discovery: { disableDynamicFileAccess: true, requireEntitiesArray: true },
    forceUtcTimezone: true,
    allowGlobalContext: false,
    ensureDatabase: false,
    pool: { min: 0, max: poolMax, idleTimeoutMillis: 10_000 },
    driverOptions: { connection: { statement_timeout: 30_000, connectionTimeoutMillis: 5_000 } },
    migrations: {
      migrationsList,
      tableName: 'mikro_orm_migrations',
      snapshotName: '.snapshot-switchboard',
      transactional: true,
      allOrNothing: true,
      snapshot: true,
      path: 'src/migrations',
      pathTs: 'src/migrations',
      emit: 'ts',
      silent: true,
    },
    seeder: { path: 'src/seeders', pathTs: 'src/seeders' },
    extensions: [Migrator, SeedManager],
  });
}
