import type { MikroORM } from '@mikro-orm/postgresql';
import { STARTUP_LOCK } from './startup-lock';

const LOCK = `select pg_advisory_xact_lock(${STARTUP_LOCK})`;

/**
 * Applies pending migrations, one instance at a time. Replicas start together: without the lock
 * two of them would both create MikroORM's bookkeeping table or run the same migration
 * (duplicate key on pg_type, or a migration failing half-way in one of them). The lock is
 * transaction-scoped, so it holds through PgBouncer in transaction mode and is released by the
 * commit whatever happens. The bookkeeping table is made first, in a transaction of its own:
 * the migrator looks for it on another connection before it joins ours. Migrations may build
 * indexes on large tables, so this transaction lifts the statement timeout for itself only.
 * The migrator reads its table on a second connection meanwhile: the pool needs two.
 */
export async function migrate(orm: MikroORM, embedded = false): Promise<string[]> {
  if (embedded) {
    // PGlite runs one transaction at a time for every connection: the migrator's second
    // connection would wait on ours for ever. One process owns it, so there is no race anyway.
    return (await orm.getMigrator().up()).map((m) => m.name);
  }
  const em = orm.em.fork();
  await em.transactional(async (tx) => {
    await tx.execute(LOCK);
    await tx.execute(
      `create table if not exists "mikro_orm_migrations" (
         "id" serial primary key, "name" varchar(255),
         "executed_at" timestamptz default current_timestamp)`,
    );
  });
  return em.transactional(async (tx) => {
    await tx.execute(LOCK);
    await tx.execute('set local statement_timeout = 0');
    const executed = await orm
      .getMigrator()
      .up({ transaction: tx.getTransactionContext() } as Parameters<
        ReturnType<MikroORM['getMigrator']>['up']
      >[0]);
    return executed.map((m) => m.name);
  });
}

/** Runs `fn` in a transaction holding the startup lock: first-start seeding, one at a time. */
export async function underStartupLock<T>(
  orm: MikroORM,
  fn: (tx: ReturnType<MikroORM['em']['fork']>) => Promise<T>,
): Promise<T> {
  return orm.em.fork().transactional(async (tx) => {
    await tx.execute(LOCK);
    return fn(tx);
  });
}
