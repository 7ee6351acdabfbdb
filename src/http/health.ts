import type { MikroORM } from '@mikro-orm/postgresql';
import type { FastifyInstance } from 'fastify';

/**
 * `/health`: the process answers (liveness, answered whatever the load). `/ready`: it takes
 * traffic: not draining, and the database answers within 2 s.
 */
export function registerHealthRoutes(
  server: FastifyInstance,
  orm: MikroORM,
  isDraining: () => boolean,
): void {
  server.get('/health', async () => ({ status: 'ok' }));
  server.get('/ready', async (_request, reply) => {
    if (isDraining()) return reply.code(503).send({ status: 'unavailable', reason: 'draining' });
    const check = await Promise.race([
      orm.checkConnection(),
      new Promise<{ ok: false; reason: string }>((resolve) =>
        setTimeout(() => resolve({ ok: false, reason: 'database check timed out' }), 2_000).unref(),
      ),
    ]);
    if (!check.ok) {
      return reply.code(503).send({ status: 'unavailable', reason: 'database unreachable' });
    }
    return { status: 'ok' };
  });
}
