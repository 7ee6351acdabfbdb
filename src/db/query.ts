import type { EntityManager } from '@mikro-orm/postgresql';
import type { Knex } from 'knex';

/**
 * Runs one SQL statement with `?` placeholders as a parameterized statement (values travel
 * apart from the text, as `$1`, `$2`, ...), inside `em`'s transaction when it has one.
 * MikroORM's `em.execute` writes the values into the text instead: every id or date makes a
 * new statement text for PostgreSQL to parse, and a batch of 50 ids a 2 KB statement.
 * Driver errors come out as MikroORM's exceptions (UniqueConstraintViolationException, ...),
 * as from `em.execute`.
 */
/**
 * Databases reached through PGlite's socket server, which runs every connection's messages on
 * one backend: two connections' unnamed statements and portals would interleave ("portal \"\"
 * cannot be run"), so there statements go as text with their values written in, one message
 * each, as MikroORM sends them.
 */
const textOnly = new WeakSet<object>();

/** Marks the ORM's connection as PGlite's (see `textOnly`). */
export function sendStatementsAsText(knex: Knex): void {
  textOnly.add(knex.client);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function query<T = any[]>(
  em: EntityManager,
  sql: string,
  params: readonly unknown[] = [],
): Promise<T> {
  if (textOnly.has(em.getKnex().client)) return em.execute(sql, [...params]) as Promise<T>;
  // As em.execute does: inside a transactional() callback, even the outer manager means the
  // transaction's (MikroORM keeps it in its TransactionContext).
  const knex = (em.getContext(false).getTransactionContext<Knex.Transaction>() ??
    em.getKnex()) as Knex;
  try {
    const result = (await knex.raw(sql, params as Knex.RawBinding[])) as { rows: unknown };
    return result.rows as T;
  } catch (err) {
    throw em.getDriver().convertException(err as Error);
  }
}
