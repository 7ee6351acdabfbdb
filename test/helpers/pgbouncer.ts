import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BINARY = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((p) => existsSync(p));

/**
 * Whether the PgBouncer tests can run: on PostgreSQL (not PGlite) with Debian's pgbouncer
 * installed. CI installs it and sets TEST_PGBOUNCER=required, so there they fail, not skip.
 */
export const pgbouncerAvailable = Boolean(process.env.DATABASE_URL) && Boolean(BINARY);
if (process.env.TEST_PGBOUNCER === 'required' && !pgbouncerAvailable) {
  throw new Error('TEST_PGBOUNCER=required but pgbouncer or DATABASE_URL is missing');
}

export interface PgBouncer {
  /** `databaseUrl` (a database on the PostgreSQL behind it) as reached through PgBouncer. */
  url(databaseUrl: string): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited: ${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`pgbouncer did not listen on ${port}: ${log()}`);
}

/**
 * A PgBouncer of the test's own, in transaction pooling mode (as production runs it) in front of
 * the PostgreSQL of `DATABASE_URL`, for every database there. `poolSize` server connections per
 * database; `queryWaitTimeout` (seconds) is how long it queues a client for one.
 */
export async function startPgBouncer(
  options: { poolSize?: number; queryWaitTimeout?: number } = {},
): Promise<PgBouncer> {
  if (!BINARY || !process.env.DATABASE_URL) throw new Error('pgbouncer is not available');
  const target = new URL(process.env.DATABASE_URL);
  const dir = mkdtempSync(join(tmpdir(), 'sb-pgbouncer-'));
  chmodSync(dir, 0o777);
  const port = await freePort();
  const user = decodeURIComponent(target.username || 'postgres');
  writeFileSync(join(dir, 'userlist.txt'), `"${user}" ""\n`);
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${target.hostname} port=${target.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      'max_client_conn = 1000',
      `default_pool_size = ${options.poolSize ?? 20}`,
      `query_wait_timeout = ${options.queryWaitTimeout ?? 120}`,
      'server_reset_query =',
      `admin_users = ${user}`,
      '',
    ].join('\n'),
  );
  for (const file of ['userlist.txt', 'pgbouncer.ini']) chmodSync(join(dir, file), 0o644);
  // PgBouncer will not run as root: as root, it is told to switch to the postgres user.
  const asRoot = process.getuid?.() === 0;
  const child = spawn(BINARY, [...(asRoot ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await waitForPort(port, child, () => output);
  return {
    url(databaseUrl: string) {
      const u = new URL(databaseUrl);
      u.host = `127.0.0.1:${port}`;
      return u.toString();
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
