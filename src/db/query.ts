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

interface PgConnection {
  query(
    config: { text: string; values: readonly unknown[] },
    callback: (err: Error | null, result: { rows: unknown[] }) => void,
  ): void;
}
interface KnexConnections {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(connection: PgConnection): Promise<unknown>;
  positionBindings(sql: string): string;
}

/**
 * `?` placeholders turned into `$1`, `$2`, ... as knex does, once per statement text, with
 * their number: values that do not match it are refused as knex refuses them (a bug, which
 * PostgreSQL would answer with a protocol violation).
 */
const positional = new Map<string, { text: string; placeholders: number }>();
const POSITIONAL_TEXTS = 2_000;

function positionalText(client: KnexConnections, sql: string, values: number): string {
  let known = positional.get(sql);
  if (known === undefined) {
    const text = client.positionBindings(sql);
    known = { text, placeholders: (text.match(/\$\d+/g) ?? []).length };
    // Statement texts come from the code (a few hundred shapes); the bound is only a guard.
    if (positional.size >= POSITIONAL_TEXTS) positional.clear();
    positional.set(sql, known);
  }
  if (known.placeholders !== values) {
    throw new Error(`Expected ${known.placeholders} bindings, saw ${values}`);
  }
  return known.text;
}

/** Whether `em`'s statements go as text (PGlite: see `textOnly`). */
export function runsStatementsAsText(em: EntityManager): boolean {
  return textOnly.has(em.getKnex().client);
}

/**
 * Sends a statement on a connection of `client` (pooled, or a transaction's), made by
 * `statement` once the connection is held, and releases the connection.
 */
async function send<T>(
  em: EntityManager,
  client: KnexConnections,
  statement: () => { text: string; values: readonly unknown[] },
): Promise<T> {
  let connection: PgConnection | undefined;
  try {
    connection = await client.acquireConnection();
    const { text, values } = statement();
    const held = connection;
    const result = await new Promise<{ rows: unknown[] }>((resolve, reject) => {
      held.query({ text, values }, (err, res) => (err ? reject(err) : resolve(res)));
    });
    return result.rows as T;
  } catch (err) {
    throw em.getDriver().convertException(err as Error);
  } finally {
    if (connection) void client.releaseConnection(connection);
  }
}

/**
 * As `query` outside a transaction, with the statement made once a pooled connection is held:
 * `make` is called then, and what it returns is sent (db/coalesce.ts gathers calls while the
 * connection is waited for). Not for PGlite (statements go as text there), nor for values
 * `query` leaves to knex.
 */
export function queryWhenConnected<T>(
  em: EntityManager,
  make: () => { sql: string; params: readonly unknown[] },
): Promise<T> {
  const client = em.getKnex().client as unknown as KnexConnections;
  return send<T>(em, client, () => {
    const { sql, params } = make();
    return { text: positionalText(client, sql, params.length), values: params };
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function query<T = any[]>(
  em: EntityManager,
  sql: string,
  params: readonly unknown[] = [],
): Promise<T> {
  // knex expands an array value into a list of placeholders, and refuses undefined.
  const knexOnly = params.some((value) => value === undefined || Array.isArray(value));
  if (textOnly.has(em.getKnex().client)) {
    if (!knexOnly) {
      // The same refusal of mismatched values as below, before the text is written.
      positionalText(em.getKnex().client as unknown as KnexConnections, sql, params.length);
    }
    return em.execute(sql, [...params]) as Promise<T>;
  }
  // As em.execute does: inside a transactional() callback, even the outer manager means the
  // transaction's (MikroORM keeps it in its TransactionContext).
  const trx = em.getContext(false).getTransactionContext<Knex.Transaction>();
  const knex = (trx ?? em.getKnex()) as Knex;
  // Such statements keep knex's path. The others go straight to a pooled (or the
  // transaction's) connection, where pool-guard.ts still bounds them by the request's deadline
  // and counts them: knex's query builder, runner and events cost more than the statement's
  // own I/O.
  if (knexOnly) {
    try {
      const result = (await knex.raw(sql, params as Knex.RawBinding[])) as { rows: unknown };
      return result.rows as T;
    } catch (err) {
      throw em.getDriver().convertException(err as Error);
    }
  }
  const client = knex.client as unknown as KnexConnections;
  let text: string;
  try {
    if (trx?.isCompleted()) {
      throw new Error('Transaction query already complete');
    }
    text = positionalText(client, sql, params.length);
  } catch (err) {
    throw em.getDriver().convertException(err as Error);
  }
  return send<T>(em, client, () => ({ text, values: params }));
}
