import 'reflect-metadata';
import { MikroORM } from '@mikro-orm/postgresql';
import { createLogger } from './logger';
import { loadConfig } from './config';
import { migrate } from './db/migrate';
import { ormOptions } from './db/orm-options';
import { prepareDatabase } from './db/server-settings';

/**
 * `npm run migrate`: applies pending migrations and the database timeouts, then exits: the
 * release step of a deployment that runs instances with MIGRATE_ON_START=false. Safe to run
 * while instances start or serve (the startup lock serializes it with them).
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config);
  if (!config.databaseUrl) {
    throw new Error('Set DATABASE_URL: the embedded database is migrated by the server itself');
  }
  await prepareDatabase(
    config.databaseUrl,
    {
      statementTimeoutMs: config.dbStatementTimeoutMs,
      lockTimeoutMs: config.dbLockTimeoutMs,
      idleInTransactionTimeoutMs: config.dbIdleInTransactionTimeoutMs,
    },
    logger,
    config.dbConnectTimeoutMs,
  );
  const orm = await MikroORM.init(
    ormOptions(config.databaseUrl, { poolMax: 2, connectTimeoutMs: config.dbConnectTimeoutMs }),
  );
  try {
    const executed = await migrate(orm);
    logger.info({ migrations: executed }, executed.length ? 'applied migrations' : 'up to date');
  } finally {
    await orm.close(true);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`migrate failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
