import { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Metrics } from '../metrics';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded';
import { migrate } from './migrate';
import { ormOptions } from './orm-options';
import { settlesWithin } from '../lib/settle';
import { endConnectionsInUse, guardPool } from './pool-guard';
import { coalesceCalls } from './coalesce';
import { sendStatementsAsText } from './query';
import { prepareDatabase } from './server-settings';
import { warmPool } from './warm-pool';

/** How long closing waits for the pool's connections to come back before ending them. */
const CLOSE_GRACE_MS = 2_000;

export interface OpenDatabase {
  orm: MikroORM;
  /** True on the embedded PGlite (in this process: no timer can fire while it works). */
  embedded: boolean;
  /** Calls `listener` with every SQL statement sent, until the returned stop(). */
  watchStatements(listener: (text: string) => void): () => void;
  /**
   * Closes the pool, then the embedded database if there is one. Connections still in use after
   * `graceMs` (default 2 s: by then the HTTP server has let its requests finish) are ended.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * The database the app runs on: DATABASE_URL's server, or the embedded PGlite without one;
 * session settings checked, the pool guarded by the request deadline, migrations applied (or
 * refused to start with some pending when MIGRATE_ON_START=false).
 */
export async function openDatabase(
  config: Config,
  logger: Logger,
  metrics: Metrics,
): Promise<OpenDatabase> {
  let embedded: EmbeddedDatabase | null = null;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedDatabase(config.dataDir, {
      maxConnections: config.dbPoolMax + 4,
    });
    databaseUrl = embedded.url;
    logger.info({ dataDir: config.dataDir }, 'using the embedded PostgreSQL (PGlite)');
  }
  const database = await prepareDatabase(
    databaseUrl,
    {
      statementTimeoutMs: config.dbStatementTimeoutMs,
      lockTimeoutMs: config.dbLockTimeoutMs,
      idleInTransactionTimeoutMs: config.dbIdleInTransactionTimeoutMs,
    },
    logger,
    // Starting is not latency-critical: a slow first connection is waited for.
    Math.max(config.dbConnectTimeoutMs, 10_000),
  );
  const statementListeners = new Set<(text: string) => void>();
  const orm = await MikroORM.init(
    ormOptions(databaseUrl, {
      onQuery: (text) => {
        metrics.dbStatements.inc();
        for (const listener of statementListeners) listener(text);
      },
      poolMax: config.dbPoolMax,
      idleTimeoutMs: config.dbPoolIdleTimeoutMs,
      // PGlite answers from this process: a slow accept means a busy process, not a dead peer.
      connectTimeoutMs: database.embedded ? 30_000 : config.dbConnectTimeoutMs,
    }),
  );
  coalesceCalls(orm.em, config.dbCoalesce, (calls) => metrics.dbCoalescedCalls.observe(calls));
  const close = async (graceMs = CLOSE_GRACE_MS) => {
    const closing = orm.close(true);
    if (!(await settlesWithin(closing, graceMs))) {
      const { ended, lastStatements } = endConnectionsInUse(orm.em.getKnex());
      logger.warn(
        { connections: ended, lastStatements, graceMs },
        'database connections still in use at close: ended',
      );
      if (!(await settlesWithin(closing, graceMs))) {
        logger.error({ graceMs }, 'the database pool did not close: left behind');
      }
    }
    await embedded?.stop();
  };
  // On PGlite (in this process) no timer can fire while it works: no deadline there.
  if (!database.embedded) guardPool(orm.em.getKnex(), config.dbAcquireTimeoutMs);
  else sendStatementsAsText(orm.em.getKnex());
  if (config.migrateOnStart) {
    const executed = await migrate(orm, database.embedded);
    if (executed.length > 0) logger.info({ migrations: executed }, 'applied migrations');
  } else {
    const pending = await orm.getMigrator().getPendingMigrations();
    if (pending.length > 0) {
      await close();
      throw new Error(
        `${pending.length} migration(s) pending and MIGRATE_ON_START=false: run \`npm run migrate\` first`,
      );
    }
  }
  // PGlite runs every connection on one backend in this process: nothing to warm there.
  if (config.dbPoolWarm && !database.embedded) {
    const started = performance.now();
    const { warmed, error } = await warmPool(orm.em.getKnex(), config.dbPoolMax);
    if (error === undefined) {
      logger.info(
        { connections: warmed, ms: Math.round(performance.now() - started) },
        'warmed the database pool',
      );
    } else {
      logger.warn({ err: error }, 'could not warm the database pool: connections open on demand');
    }
  }
  return {
    orm,
    embedded: database.embedded,
    watchStatements(listener) {
      statementListeners.add(listener);
      return () => statementListeners.delete(listener);
    },
    close,
  };
}
