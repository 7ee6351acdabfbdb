import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyBaseLogger } from 'fastify';
import type { Viewer } from './auth/viewer';
import type { Loaders } from './loaders';

/** Per request: its own forked EntityManager, the viewer, fresh DataLoaders. */
export interface Context {
  em: EntityManager;
  viewer: Viewer;
  loaders: Loaders;
  requestId: string;
  /** The client's address (behind a proxy only with TRUST_PROXY): keys the sign-in limits. */
  clientAddress: string;
  /** The request's logger: every line carries the request id. */
  logger: FastifyBaseLogger;
  /** The request's Idempotency-Key header when it calls invokeTool: that call's default key. */
  idempotencyKey?: string;
  /**
   * Set while an unverified viewer's session is being checked on its own before execution
   * (http/session-deferral.ts): what reads the viewer before execution waits for it.
   */
  session?: Promise<void>;
}
