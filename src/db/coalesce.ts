import type { EntityManager } from '@mikro-orm/postgresql';
import { currentDeadline, markCutOff, runUnderDeadline, type Deadline } from './deadline';
import { query, queryWhenConnected, runsStatementsAsText } from './query';
import { DatabaseUnavailableError, saysDatabaseUnavailable } from './unavailable';

/**
 * A function kept in the database (PL/pgSQL, its plan kept per connection) that answers at most
 * one row a call, and whose calls by concurrent requests may therefore go to PostgreSQL as one
 * statement.
 */
export interface CoalescedFunction {
  /** Its name, as SQL (a plain lowercase identifier). */
  readonly name: string;
  /** Its parameters' PostgreSQL types, in order. */
  readonly types: readonly string[];
}

type Row = Record<string, unknown>;

interface Call {
  em: EntityManager;
  params: readonly unknown[];
  deadline: Deadline | undefined;
  resolve(rows: Row[]): void;
  reject(err: unknown): void;
}

/** The most calls one statement carries: a batch that has this many takes no more. */
export const MAX_COALESCED_CALLS = 32;

/** What a database's calls went as, for /metrics: `calls` calls in one statement. */
type CoalescingListener = (calls: number) => void;
const listeners = new WeakMap<object, CoalescingListener>();

/** Databases whose calls each go alone (DB_COALESCE=false). */
const apart = new WeakSet<object>();

/**
 * Sets how `em`'s database sends its kept functions' calls: together when `enabled`, telling
 * `listener` how many calls each statement carried; each alone otherwise.
 */
export function coalesceCalls(
  em: EntityManager,
  enabled: boolean,
  listener: CoalescingListener,
): void {
  const database = em.getKnex().client as object;
  listeners.set(database, listener);
  if (enabled) apart.delete(database);
  else apart.add(database);
}

/** `values` as a PostgreSQL array literal: each element quoted, NULL for null. */
function arrayLiteral(values: readonly unknown[]): string {
  const elements = values.map((value) => {
    if (value === null || value === undefined) return 'NULL';
    const text = value instanceof Date ? value.toISOString() : String(value);
    return `"${text.replace(/[\\"]/g, '\\$&')}"`;
  });
  return `{${elements.join(',')}}`;
}

/** Calls that will go as one statement; open to more until it has a connection to go on. */
interface Batch {
  calls: Call[];
  /**
   * Bounds the wait for a connection (by the first call's deadline) and the statement (by the
   * earliest of the deadlines of the calls it carries); Infinity outside requests.
   */
  deadline: Deadline;
}

/**
 * Calls of one kept function that concurrent requests make go to PostgreSQL as one statement,
 * in one round trip: `unnest` of each parameter's values, with ordinality, and the function run
 * (lateral) for each row. A batch opens with a call and takes every call that comes until it
 * has a pooled connection to go on: the calls of the requests the event loop handles in the
 * same turn (its first chance to go is after that turn's I/O), and, when every connection is
 * busy, all that come while it waits for one. For PostgreSQL that is one statement to parse,
 * plan and answer instead of several; for this process one query written, one connection
 * taken and one answer read. A call alone in its batch, as every call under light load, goes
 * as it always did: one call of the function.
 *
 * The calls stay apart: each gets only the row of its own arguments (a session check is made
 * per call, with that call's session), and when the statement fails for anything but the
 * database being unavailable, every call runs again alone, so that one request's bad value
 * fails no other. The statement is bounded by the earliest of its calls' request deadlines, a
 * call already out of time being refused alone; an outage fails each call as it would have
 * alone. A call inside a transaction, or on PGlite (one backend, statements as text), goes
 * alone at once; so does every call with DB_COALESCE=false.
 */
export class Coalescer {
  /** The batch still taking calls, by database (an ORM's knex client). */
  private readonly open = new Map<object, Batch>();
  private readonly single: string;
  private readonly together: string;

  constructor(fn: CoalescedFunction) {
    const columns = fn.types.map((_, i) => `p${i + 1}`);
    this.single = `select * from ${fn.name}(${fn.types.map((t) => `?::${t}`).join(', ')})`;
    this.together =
      `select b.i as coalesced_call, f.* from unnest(${fn.types.map((t) => `?::${t}[]`).join(', ')})` +
      ` with ordinality as b(${columns.join(', ')}, i)` +
      ` cross join lateral ${fn.name}(${columns.map((c) => `b.${c}`).join(', ')}) f`;
  }

  /** The statement of a call that goes alone (`?` placeholders). */
  get singleStatement(): string {
    return this.single;
  }

  /** The function's rows (at most one) for `params`. */
  call(em: EntityManager, params: readonly unknown[]): Promise<Row[]> {
    const database = em.getKnex().client as object;
    if (apart.has(database) || runsStatementsAsText(em) || em.isInTransaction()) {
      return query<Row[]>(em, this.single, params);
    }
    return new Promise<Row[]>((resolve, reject) => {
      const call: Call = { em, params, deadline: currentDeadline(), resolve, reject };
      const batch = this.open.get(database);
      if (batch) {
        batch.calls.push(call);
        if (batch.calls.length >= MAX_COALESCED_CALLS) this.open.delete(database);
        return;
      }
      const opened: Batch = {
        calls: [call],
        deadline: { at: call.deadline?.at ?? Infinity, cutOff: false },
      };
      this.open.set(database, opened);
      // After the I/O callbacks of this turn: the calls of every request they ran.
      setImmediate(() => void this.send(database, opened));
    });
  }

  /** Waits for a connection, closes the batch and sends it: alone or together. */
  private async send(database: object, batch: Batch): Promise<void> {
    const close = () => {
      if (this.open.get(database) === batch) this.open.delete(database);
    };
    let calls: Call[] = [];
    let noneLeft = false;
    let rows: Row[];
    try {
      rows = await runUnderDeadline(batch.deadline, () =>
        queryWhenConnected<Row[]>(batch.calls[0]!.em, () => {
          close();
          calls = this.live(batch);
          if (calls.length === 0) {
            noneLeft = true;
            throw new DatabaseUnavailableError('No call of the batch was left in time');
          }
          listeners.get(database)?.(calls.length);
          if (calls.length === 1) return { sql: this.single, params: calls[0]!.params };
          return {
            sql: this.together,
            params: calls[0]!.params.map((_, i) => arrayLiteral(calls.map((c) => c.params[i]))),
          };
        }),
      );
    } catch (err) {
      close();
      if (calls.length === 0) {
        // None was left in time (each refused already), or no connection came: every call
        // still waits.
        if (noneLeft) return;
        calls = batch.calls;
      }
      if (calls.length === 1 || saysDatabaseUnavailable(err)) {
        for (const c of calls) {
          if (batch.deadline.cutOff) markCutOff(c.deadline);
          c.reject(err);
        }
        return;
      }
      // Not an outage: some call's values failed the statement. Each runs again alone.
      for (const c of calls) this.alone(c);
      return;
    }
    if (calls.length === 1) {
      calls[0]!.resolve(rows);
      return;
    }
    const byCall: Row[][] = calls.map(() => []);
    for (const row of rows) {
      const { coalesced_call: index, ...own } = row;
      byCall[Number(index) - 1]?.push(own);
    }
    calls.forEach((c, i) => c.resolve(byCall[i]!));
  }

  /**
   * The batch's calls still in time, its deadline now the earliest of theirs; a call out of
   * time is refused as the database layer refuses it alone.
   */
  private live(batch: Batch): Call[] {
    const now = performance.now();
    const live: Call[] = [];
    for (const c of batch.calls) {
      if (c.deadline && c.deadline.at <= now) {
        markCutOff(c.deadline);
        c.reject(new DatabaseUnavailableError('The request deadline passed'));
        continue;
      }
      live.push(c);
      if (c.deadline && c.deadline.at < batch.deadline.at) batch.deadline.at = c.deadline.at;
    }
    return live;
  }

  /** One call as its own statement, under its own request's deadline. */
  private alone(call: Call): void {
    runUnderDeadline(call.deadline, () => query<Row[]>(call.em, this.single, call.params)).then(
      call.resolve,
      call.reject,
    );
  }
}
