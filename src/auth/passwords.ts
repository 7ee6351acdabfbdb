import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import Piscina from 'piscina';
import { outsideDeadline } from '../db/deadline';
import { RateLimitedError } from '../errors';
import { settlesWithin } from '../lib/settle';

/**
 * bcrypt reads only the first 72 bytes of its input, and passwords may be 128 characters (up to
 * 512 bytes of UTF-8): every byte must count. So bcrypt is given the SHA-256 of the password
 * (44 base64 characters, never a NUL), and the stored hash says so with this prefix. Hashes
 * without it (written before) are still verified the way they were made.
 */
const PREHASHED = '$sha256$';

function prehash(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('base64');
}

/**
 * Plain CommonJS next to this file, so that a worker thread can `require` it as is: from src/
 * under jest (nothing transpiles inside a worker) and from dist/, where `npm run build` copies it.
 */
const WORKER_FILE = join(__dirname, 'password-hash.worker.js');

/** What a worker answers: the value and the milliseconds its thread spent on it. */
interface Timed<T> {
  value: T;
  ms: number;
}

/** A hash's duration until the pool has measured one: about this at cost 10, doubling per step. */
const PRIOR_MS_AT_COST_10 = 80;
/** Weight of the newest measurement in the running estimate of a hash's duration. */
const SMOOTHING = 0.2;

export interface PasswordHasherOptions {
  /** bcrypt cost (log2 rounds). */
  cost: number;
  /** Worker threads that hash. */
  workers: number;
  /** Hashes that may wait for a worker; past it a hash is refused with RATE_LIMITED. */
  maxQueue: number;
}

/** One place in the hashing queue (see `PasswordHasher.reserve`). */
export interface HashSlot {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string | null): Promise<boolean>;
  /** Gives the place back; safe to call more than once. */
  release(): void;
}

/**
 * bcrypt (about 140 ms at cost 11) runs on a pool of worker threads, never on the event loop:
 * a burst of sign-ins costs other requests nothing. The queue in front of the pool is bounded,
 * so a burst is refused at once with RATE_LIMITED instead of making every sign-in wait longer.
 */
export class PasswordHasher {
  private readonly pool: Piscina<Record<string, unknown>, Timed<unknown>>;
  private readonly cost: number;
  private readonly workers: number;
  /** Hashes running or waiting: one per worker, plus the queue. */
  private readonly capacity: number;
  /**
   * Compared against when the email is unknown, so that both failures take as long: a well-formed
   * hash at the configured cost that no password matches. Built from random bytes, not hashed, so
   * that starting costs no bcrypt work.
   */
  private readonly dummyHash: string;
  private inFlight = 0;
  private hashMs: number;

  constructor(options: PasswordHasherOptions) {
    if (!existsSync(WORKER_FILE)) {
      throw new Error(`${WORKER_FILE} is missing: build with \`npm run build\`, which copies it`);
    }
    this.cost = options.cost;
    this.workers = options.workers;
    this.capacity = options.workers + options.maxQueue;
    this.hashMs = PRIOR_MS_AT_COST_10 * 2 ** (options.cost - 10);
    this.dummyHash =
      PREHASHED + bcrypt.genSaltSync(options.cost) + bcrypt.encodeBase64(randomBytes(23), 23);
    // Threads start now, in the background: the first sign-in does not wait for one to boot.
    this.pool = new Piscina({
      filename: WORKER_FILE,
      minThreads: options.workers,
      maxThreads: options.workers,
      idleTimeout: Infinity,
    });
  }

  /**
   * Ends the worker threads; hashes still running are abandoned. False when the threads had not
   * ended after `graceMs`: they are left to end with the process.
   */
  async close(graceMs = 2_000): Promise<boolean> {
    return settlesWithin(this.pool.destroy(), graceMs);
  }

  /**
   * Takes a place in the hashing queue now, or throws RATE_LIMITED at once when every worker is
   * busy and `maxQueue` hashes already wait. Callers take it before any other work of theirs
   * (rate-limit budgets, reads, writes), so that a refused sign-in has spent and changed nothing,
   * and give it back (`release`) after their last hash.
   */
  reserve(): HashSlot {
    if (this.inFlight >= this.capacity) throw new RateLimitedError(this.retryAfter());
    this.inFlight += 1;
    let held = true;
    const holding = () => {
      if (!held) throw new Error('This hashing slot was released');
    };
    return {
      hash: async (password) => {
        holding();
        return (
          PREHASHED +
          (await this.run<string>('hash', { password: prehash(password), cost: this.cost }))
        );
      },
      verify: async (password, hash) => {
        holding();
        const stored = hash ?? this.dummyHash;
        const ok = stored.startsWith(PREHASHED)
          ? await this.run<boolean>('compare', {
              password: prehash(password),
              hash: stored.slice(PREHASHED.length),
            })
          : await this.run<boolean>('compare', { password, hash: stored });
        return hash !== null && ok;
      },
      release: () => {
        if (held) this.inFlight -= 1;
        held = false;
      },
    };
  }

  /** Hashes that may run or wait at once: the workers, plus the queue. */
  get places(): number {
    return this.capacity;
  }

  /** Seconds until `waiting` hashes are done at the measured pace (at least 1). */
  secondsFor(waiting: number): number {
    return Math.max(1, Math.ceil((Math.ceil(waiting / this.workers) * this.hashMs) / 1000));
  }

  async hash(password: string): Promise<string> {
    const slot = this.reserve();
    try {
      return await slot.hash(password);
    } finally {
      slot.release();
    }
  }

  async verify(password: string, hash: string | null): Promise<boolean> {
    const slot = this.reserve();
    try {
      return await slot.verify(password, hash);
    } finally {
      slot.release();
    }
  }

  /**
   * Seconds until the hashes in flight are done (`workers` at a time, each as long as the
   * measured average): retrying sooner would most likely meet a full queue again.
   */
  private retryAfter(): number {
    return this.secondsFor(this.inFlight);
  }

  /** Waiting for a worker and hashing are not the database's time: they extend the deadline. */
  private async run<T>(name: 'hash' | 'compare', task: Record<string, unknown>): Promise<T> {
    const { value, ms } = await outsideDeadline(() => this.pool.run(task, { name }));
    this.hashMs += SMOOTHING * (ms - this.hashMs);
    return value as T;
  }
}
