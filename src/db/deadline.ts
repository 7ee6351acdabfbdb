import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The request deadline: how long a request may spend waiting on the database (pool acquire
 * and queries) before it answers SERVICE_UNAVAILABLE. It is carried through the request's
 * async calls, so the database layer can bound each wait by what is left, without every
 * service passing it along. Time spent on purpose elsewhere (an upstream tool call, a password
 * hash) extends it by that time: the deadline is about the database, not about tools.
 */
export interface Deadline {
  at: number;
  /**
   * A query of this request was cut off, or lost its connection: later errors of its
   * transaction follow from that.
   */
  cutOff: boolean;
}

const storage = new AsyncLocalStorage<Deadline>();

/** Runs `fn` with a deadline `ms` from now. */
export function withDeadline<T>(ms: number, fn: () => T): T {
  return storage.run({ at: performance.now() + ms, cutOff: false }, fn);
}

/**
 * Runs `fn` under `deadline` (the same object: what cuts it off marks it), or under none: work
 * started for a request from outside its own async calls (db/coalesce.ts).
 */
export function runUnderDeadline<T>(deadline: Deadline | undefined, fn: () => T): T {
  return deadline ? storage.run(deadline, fn) : storage.exit(fn);
}

/** Milliseconds left before the current request's deadline; Infinity outside a request. */
export function remainingMs(): number {
  const deadline = storage.getStore();
  return deadline ? deadline.at - performance.now() : Infinity;
}

/** Runs `fn` (work that is not the database's) without counting its time against the deadline. */
export async function outsideDeadline<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = storage.getStore();
  if (!deadline) return fn();
  const started = performance.now();
  try {
    return await fn();
  } finally {
    deadline.at += performance.now() - started;
  }
}

/**
 * The current request's deadline, to capture where a query starts: node-postgres calls a
 * query's callback from its socket's events, in the context of the request that opened the
 * pooled connection, not of the one whose query it is.
 */
export function currentDeadline(): Deadline | undefined {
  return storage.getStore();
}

/** Records that the database layer cut one of this request's queries off. */
export function markCutOff(deadline: Deadline | undefined = storage.getStore()): void {
  if (deadline) deadline.cutOff = true;
}

/** Whether a query of the current request was cut off for the deadline. */
export function wasCutOff(): boolean {
  return storage.getStore()?.cutOff ?? false;
}
