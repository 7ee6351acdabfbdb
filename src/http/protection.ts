import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SERVICE_RETRY_AFTER_SECONDS } from '../errors';
import type { Metrics } from '../metrics';

export interface ProtectionOptions {
  hsts: boolean;
  /** Event-loop delay (ms) past which new requests are shed; 0 = never. */
  maxEventLoopDelayMs: number;
  metrics: Metrics;
  /** True once the server is draining (SIGTERM): new requests are refused, coded. */
  isDraining: () => boolean;
}

/** Routes that answer whatever the load: liveness and the scraper must see a busy server. */
const ALWAYS_ANSWERED = new Set(['/health', '/metrics']);

/** The coded answer of a request the server will not take now (503, Retry-After): its body. */
function unavailable(reply: FastifyReply, message: string) {
  void reply.code(503).header('retry-after', String(SERVICE_RETRY_AFTER_SECONDS));
  return {
    errors: [
      {
        message,
        extensions: { code: 'SERVICE_UNAVAILABLE', retryAfter: SERVICE_RETRY_AFTER_SECONDS },
      },
    ],
  };
}

/**
 * Production headers on every response, load shedding and the draining refusal:
 * - helmet's headers: nosniff, framing denied everywhere (X-Frame-Options and CSP
 *   frame-ancestors), a CSP that lets a JSON API load nothing (the IDE page sets its own), no
 *   referrer, HSTS behind its switch (only behind HTTPS); GraphQL answers are never cached
 *   (tokens travel in them);
 * - under-pressure: past the event-loop delay bound, new requests get SERVICE_UNAVAILABLE with
 *   Retry-After at once instead of queueing behind the work already there;
 * - while draining, /ready is 503 and new requests get the same coded answer.
 */
export async function registerProtection(
  server: FastifyInstance,
  options: ProtectionOptions,
): Promise<void> {
  // What helmet 8 sends with these options, computed once: helmet runs a dozen middlewares a
  // request to produce the same constant set.
  const headers: Record<string, string> = {
    'content-security-policy':
      "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'",
    'cross-origin-opener-policy': 'same-origin',
    // An API called from other origins through CORS: cross-origin reads are CORS's business.
    'cross-origin-resource-policy': 'cross-origin',
    'origin-agent-cluster': '?1',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-dns-prefetch-control': 'off',
    'x-download-options': 'noopen',
    'x-frame-options': 'DENY',
    'x-permitted-cross-domain-policies': 'none',
    'x-xss-protection': '0',
    ...(options.hsts ? { 'strict-transport-security': 'max-age=31536000; includeSubDomains' } : {}),
  };

  server.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done) => {
    void reply.headers(headers);
    const route = request.routeOptions.url;
    if (route === '/graphql') void reply.header('cache-control', 'no-store');
    if (options.isDraining() && !ALWAYS_ANSWERED.has(route ?? '') && route !== '/ready') {
      options.metrics.shed.inc({ reason: 'draining' });
      void reply.header('connection', 'close');
      void reply.send(unavailable(reply, 'The server is shutting down; retry shortly'));
      return;
    }
    done();
  });

  if (options.maxEventLoopDelayMs > 0) {
    await server.register(underPressure, {
      maxEventLoopDelay: options.maxEventLoopDelayMs,
      // The delay is the mean over one window, and a window with no sample (the loop busy
      // throughout) counts as infinite: a window as long as the bound (100 ms to 1 s) sheds only
      // when the loop has been stuck about that long, not on a burst of short requests.
      sampleInterval: Math.min(1_000, Math.max(100, options.maxEventLoopDelayMs)),
      // Returning a body makes under-pressure send it; returning nothing lets the request on.
      pressureHandler: ((request: FastifyRequest, reply: FastifyReply) => {
        if (ALWAYS_ANSWERED.has(request.routeOptions.url ?? '')) return undefined;
        options.metrics.shed.inc({ reason: 'event_loop_delay' });
        return unavailable(reply, 'The server is overloaded; retry shortly');
      }) as unknown as () => void,
    });
  }
}
