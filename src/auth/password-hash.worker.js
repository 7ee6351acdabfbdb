'use strict';
/**
 * The body of a PasswordHasher worker thread (piscina): bcryptjs's synchronous API, which here
 * blocks only this thread. Plain CommonJS on purpose: worker threads load it with Node's own
 * `require`, so the same file runs under jest (no transpiling in a worker) and from dist/ (the
 * build copies it there).
 */
const os = require('node:os');
const bcrypt = require('bcryptjs');

/**
 * Hashing yields the CPU to the event loop: this thread runs this much nicer than the thread
 * that started it. Only on Linux, where setpriority(PRIO_PROCESS, 0) changes the calling thread
 * alone; elsewhere it would lower the whole process, event loop included.
 */
const NICE_INCREMENT = 10;

let lowered = false;

/**
 * At the first task, not when this file loads: threads inherit the priority of the thread that
 * starts them, and loading a worker may start libuv's thread pool, which is the whole process's
 * (the event loop's file and DNS work). Tasks start no threads.
 */
function lowerPriority() {
  if (lowered) return;
  lowered = true;
  if (process.platform !== 'linux') return;
  try {
    os.setPriority(0, Math.min(19, os.getPriority(0) + NICE_INCREMENT));
  } catch {
    // Not allowed here (a sandbox without setpriority): hash at the normal priority.
  }
}

/** The result with the milliseconds this thread spent on it (the pool's estimate of a hash). */
function timed(work) {
  lowerPriority();
  const start = process.hrtime.bigint();
  const value = work();
  return { value, ms: Number(process.hrtime.bigint() - start) / 1e6 };
}

module.exports = {
  hash: ({ password, cost }) => timed(() => bcrypt.hashSync(password, cost)),
  compare: ({ password, hash }) => timed(() => bcrypt.compareSync(password, hash)),
};
