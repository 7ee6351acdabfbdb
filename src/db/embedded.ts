import { mkdirSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedDatabase {
  /** A postgres:// URL that the ordinary driver connects to. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Serves a PGlite database (real PostgreSQL compiled to WebAssembly) over the PostgreSQL wire
 * protocol on a loopback port, so that the same driver, SQL and migrations run on it.
 * PGlite is one backend: the socket server runs one statement at a time and keeps a
 * transaction to the connection that opened it, so connections must never wait on each other
 * from inside a transaction.
 */
export async function startEmbeddedDatabase(
  dataDir: string | null,
  options: { maxConnections?: number; port?: number } = {},
): Promise<EmbeddedDatabase> {
  let db: PGlite;
  if (dataDir) {
    const dir = resolve(dataDir, 'pglite');
    mkdirSync(dir, { recursive: true });
    db = await PGlite.create(dir);
  } else {
    db = await PGlite.create();
  }
  const server = new PGLiteSocketServer({
    db,
    host: '127.0.0.1',
    port: options.port ?? 0,
    maxConnections: options.maxConnections ?? 16,
  });
  await server.start();
  // The socket server's stop() waits for every connection to end, and only ends the ones it
  // has taken in: one still queued for the single backend (a connect that raced the pool's
  // close) would hold stop() forever. Every socket is tracked, and destroyed on stop.
  const sockets = new Set<Socket>();
  const listening = (server as unknown as { server?: Server | null }).server;
  // A private field of pglite-socket 0.2: if an upgrade renames it, fail loudly, not hang later.
  if (!listening) throw new Error('pglite-socket: its net.Server is not where it was');
  listening.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const conn = server.getServerConn();
  return {
    url: `postgres://postgres:postgres@${conn}/postgres?sslmode=disable`,
    async stop() {
      const stopped = server.stop();
      for (const socket of sockets) socket.destroy();
      await stopped;
      await db.close();
    },
  };
}
