import type { FastifyReply } from 'fastify';
import { rootOperation } from './operation';

/** The mutations that hash a password. */
const HASHING = new Set(['login', 'register', 'changePassword']);
const MENTIONS_HASHING = /\b(?:login|register|changePassword)\b/;

/** Whether a document runs one of the hashing mutations; remembered per document text. */
const verdicts = new Map<string, boolean>();
const MAX_VERDICTS = 500;

function hashes(query: string, operationName: unknown): boolean {
  const key = `${typeof operationName === 'string' ? operationName : ''}\n${query}`;
  let verdict = verdicts.get(key);
  if (verdict === undefined) {
    const root = rootOperation(query, operationName);
    verdict =
      !!root &&
      root.operation.operation === 'mutation' &&
      [...root.fields].some((field) => HASHING.has(field));
    if (verdicts.size >= MAX_VERDICTS) verdicts.clear();
    verdicts.set(key, verdict);
  }
  return verdict;
}

/**
 * A door in front of the sign-in mutations, as wide as the hashing queue (workers plus
 * HASH_QUEUE_MAX). A burst of sign-ins arrives faster than any of them reaches the hasher: the
 * door counts them from the moment they arrive, so the ones past its width are refused
 * RATE_LIMITED at once, before any GraphQL work, instead of each costing a full pipeline to be
 * refused at the end of it. Other requests pass untouched (a text test, then a parse of the
 * documents that mention a sign-in, remembered).
 */
export class SignInDoor {
  private inside = 0;

  constructor(
    private readonly width: () => number,
    private readonly secondsFor: (waiting: number) => number,
  ) {}

  /**
   * Null when the request may go on (a sign-in is then counted until its reply is sent); the
   * refusal to send otherwise.
   */
  admit(
    query: unknown,
    operationName: unknown,
    reply: FastifyReply,
  ): { status: number; headers: Record<string, string>; body: unknown } | null {
    if (typeof query !== 'string' || !MENTIONS_HASHING.test(query)) return null;
    if (!hashes(query, operationName)) return null;
    if (this.inside >= this.width()) {
      const retryAfter = this.secondsFor(this.inside);
      return {
        status: 429,
        headers: { 'retry-after': String(retryAfter), 'cache-control': 'no-store' },
        body: {
          errors: [
            {
              message: `Too many sign-ins at once; retry in ${retryAfter} s`,
              extensions: { code: 'RATE_LIMITED', retryAfter },
            },
          ],
        },
      };
    }
    this.inside += 1;
    let left = false;
    const leave = () => {
      if (left) return;
      left = true;
      this.inside -= 1;
    };
    reply.raw.once('finish', leave);
    reply.raw.once('close', leave);
    return null;
  }
}
