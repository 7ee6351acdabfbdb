import type { Knex } from 'knex';
import { telemetry } from '../telemetry';
import { currentDeadline, markCutOff, remainingMs } from './deadline';
import { traceStatement } from './statement-tracing';
import { DatabaseUnavailableError, saysDatabaseUnavailable } from './unavailable';

type Callback = (err: Error | null, result?: unknown) => void;

interface GuardedClient {
  query: (config: unknown, values?: unknown, callback?: unknown) => unknown;
  connection?: { stream?: { destroy(): void } };
  __switchboardGuarded?: boolean;
  /** The last statement sent on this connection: what a close that had to end it names. */
  __lastStatement?: string;
  database?: unknown;
  host?: unknown;
  port?: unknown;
}

/**
 * Bounds every query of a request by what is left of its deadline. node-postgres's own
 * `query_timeout` only fails the callback and leaves the query running on the connection, so
 * the next query would queue behind it forever (a black-holed network never answers): here the
 * connection's socket is destroyed instead, the server rolls back whatever it had open, the
 * pool drops the connection, and the request gets DatabaseUnavailableError. Queries outside a
 * request (migrations, seeding) are left to the server's statement_timeout. With telemetry on,
 * each statement of a traced request is a span (./statement-tracing.ts).
 */
export function guardConnection(raw: unknown, onQuery?: (text: string) => void): void {
  const client = raw as GuardedClient;
  if (client.__switchboardGuarded) return;
  client.__switchboardGuarded = true;
  const query = client.query;
  client.query = function guardedQuery(this: GuardedClient, config, values, callback) {
    const text = typeof config === 'string' ? config : (config as { text?: unknown })?.text;
    if (typeof text === 'string') {
      this.__lastStatement = text;
      onQuery?.(text);
    }
    if (telemetry.enabled) {
      return traceStatement(this, config, values, callback, (c, v, cb) =>
        guarded.call(this, c, v, cb),
      );
    }
    return guarded.call(this, config, values, callback);
  };
  function guarded(this: GuardedClient, config: unknown, values: unknown, callback: unknown) {
    const left = remainingMs();
    const cb = (typeof values === 'function' ? values : callback) as Callback | undefined;
    if (
      left === Infinity ||
      typeof cb !== 'function' ||
      typeof config !== 'object' ||
      config === null ||
      typeof (config as { submit?: unknown }).submit === 'function'
    ) {
      return query.call(this, config, values, callback);
    }
    if (left <= 0) {
      markCutOff();
      process.nextTick(cb, new DatabaseUnavailableError('The request deadline passed'));
      return undefined;
    }
    // This request's deadline, captured here: the callback below runs in the context of
    // whichever request opened the pooled connection.
    const deadline = currentDeadline();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      markCutOff(deadline);
      this.connection?.stream?.destroy();
    }, left);
    const done: Callback = (err, result) => {
      clearTimeout(timer);
      if (timedOut) {
        cb(new DatabaseUnavailableError('The database did not answer in time'));
        return;
      }
      // A connection cut or refused: later errors of this request's transaction follow from it.
      if (err && saysDatabaseUnavailable(err)) markCutOff(deadline);
      cb(err, result);
    };
    return typeof values === 'function'
      ? query.call(this, config, done)
      : query.call(this, config, values, done);
  }
}

interface PendingAcquire {
  promise: Promise<unknown>;
  abort(): void;
}
interface KnexClientInternals {
  pool?: { acquire(): PendingAcquire };
  acquireConnection(): Promise<unknown>;
}

/**
 * A pooled connection is waited for at most `acquireTimeoutMs`, and never past the request's
 * deadline: a wait that cannot end in time is given up (tarn drops the pending acquire), so a
 * full pool or an unreachable server answers SERVICE_UNAVAILABLE instead of queueing for a
 * minute.
 */
export function guardPool(knex: Knex, acquireTimeoutMs: number): void {
  const client = knex.client as unknown as KnexClientInternals;
  client.acquireConnection = async function acquireConnection(this: KnexClientInternals) {
    if (!this.pool) throw new Error('Unable to acquire a connection');
    const wait = Math.min(acquireTimeoutMs, remainingMs());
    if (wait <= 0) {
      markCutOff();
      throw new DatabaseUnavailableError('The request deadline passed');
    }
    const pending = this.pool.acquire();
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      pending.abort();
    }, wait);
    try {
      const connection = (await pending.promise) as { config?: { password?: unknown } };
      if (connection.config?.password !== undefined) {
        // As knex does: the password must not show up when a connection is logged.
        Object.defineProperty(connection.config, 'password', {
          enumerable: false,
          value: connection.config.password,
        });
      }
      return connection;
    } catch (err) {
      // tarn rejects waiting acquires with 'aborted' when the pool closes (the server stopping).
      if (!expired && (err as Error)?.message === 'aborted') {
        throw new DatabaseUnavailableError('The server is closing its database connections');
      }
      if (expired) {
        markCutOff();
        throw new DatabaseUnavailableError('No database connection became free in time');
      }
      // No connection could be made (refused, reset): what fails after it follows from this.
      if (saysDatabaseUnavailable(err)) markCutOff();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  };
}

interface PoolInternals {
  pool?: { used?: { resource?: GuardedClient }[] };
}

/**
 * Ends the connections the pool still counts as in use (their sockets destroyed: a query on
 * one fails, the server rolls back what it had open) and says how many, with the last
 * statement each had sent. knex's destroy() waits for every used connection to come back,
 * without bound: a connection held by a query that never answers, or never given back, would
 * hold the server's stop forever.
 */
export function endConnectionsInUse(knex: Knex): { ended: number; lastStatements: string[] } {
  const used = (knex.client as unknown as PoolInternals).pool?.used ?? [];
  const lastStatements = used.map(({ resource }) =>
    (resource?.__lastStatement ?? '(none)').slice(0, 200),
  );
  for (const { resource } of used) resource?.connection?.stream?.destroy();
  return { ended: used.length, lastStatements };
}
