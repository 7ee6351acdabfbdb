import net from 'node:net';

export interface TcpProxy {
  /** The target URL with its host and port replaced by the proxy's. */
  url(): string;
  port(): number;
  /** Connections cut: open ones reset (RST), new ones refused. */
  cut(): Promise<void>;
  /**
   * Packets silently dropped: open connections stay open but nothing crosses them any more, and
   * new connections are accepted and never answered, as a network partition looks to a client.
   */
  blackhole(): void;
  /** Back to forwarding for new connections (blackholed ones stay broken, as after a partition). */
  restore(): Promise<void>;
  stop(): Promise<void>;
  /** Client connections open through the proxy now, and accepted since it started. */
  connections(): { open: number; accepted: number };
}

/** A TCP proxy in front of `target` that a test can cut or black-hole and restore. */
export async function startTcpProxy(target: URL): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const clients = new Set<net.Socket>();
  let accepted = 0;
  let server: net.Server | null = null;
  let port = 0;
  let dropping = false;
  const listen = () =>
    new Promise<void>((resolve) => {
      const s = net.createServer((client) => {
        sockets.add(client);
        clients.add(client);
        accepted += 1;
        client.once('close', () => clients.delete(client));
        let upstream: net.Socket | null = null;
        const drop = () => {
          client.destroy();
          upstream?.destroy();
        };
        client.on('error', drop).on('close', drop);
        if (dropping) {
          client.on('data', () => undefined); // read and discard
          return;
        }
        const up = net.connect(Number(target.port), target.hostname);
        upstream = up;
        sockets.add(up);
        up.on('error', drop).on('close', drop);
        // Forward unless the proxy is dropping: then bytes are read and thrown away.
        client.on('data', (chunk) => {
          if (!dropping) up.write(chunk);
        });
        up.on('data', (chunk) => {
          if (!dropping) client.write(chunk);
        });
      });
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as net.AddressInfo).port;
        server = s;
        resolve();
      });
    });
  const close = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = null;
      if (!s) return resolve();
      s.close(() => resolve());
    });
  await listen();
  return {
    url() {
      const u = new URL(target.toString());
      u.host = `127.0.0.1:${port}`;
      return u.toString();
    },
    port: () => port,
    async cut() {
      const closed = close();
      for (const socket of sockets) socket.resetAndDestroy();
      sockets.clear();
      await closed;
    },
    blackhole() {
      dropping = true;
    },
    async restore() {
      dropping = false;
      if (!server) await listen();
    },
    connections: () => ({ open: clients.size, accepted }),
    async stop() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await close();
    },
  };
}
