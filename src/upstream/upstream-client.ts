import { context, propagation, trace, type Span } from '@opentelemetry/api';
import CircuitBreaker from 'opossum';
import { Agent, request, type Dispatcher } from 'undici';
import { UpstreamError, UpstreamTimeoutError } from '../errors';
import { nestsDeeperThan } from '../lib/json-depth';
import type { Metrics } from '../metrics';
import { endFailed, startClientSpan, telemetry } from '../telemetry';
import { BlockedAddressError, literalAddressRefusal, publicOnlyLookup } from './network-policy';

export interface UpstreamClientOptions {
  timeoutMs: number;
  retries: number;
  retryBaseMs: number;
  breakerFailures: number;
  breakerResetMs: number;
  maxResponseBytes?: number;
  maxReportedTokens?: number;
  /** False: only public unicast addresses are called (see network-policy.ts). Default true. */
  allowPrivateNetworks?: boolean;
  /** Call latency and breaker state by tool. */
  metrics?: Metrics;
}

export interface UpstreamUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface UpstreamResult {
  output: unknown;
  usage: UpstreamUsage | null;
  attempts: number;
}

export type UpstreamErrorCode = 'UPSTREAM_ERROR' | 'UPSTREAM_TIMEOUT';

const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
const DEFAULT_MAX_REPORTED_TOKENS = 10_000_000;
const BREAKER_WINDOW_MS = 30_000;
/** Error bodies bigger than this are not worth draining to keep the connection. */
const DRAIN_LIMIT_BYTES = 64 * 1024;
const BREAKER_ERROR_PERCENTAGE = 50;
const RETRYABLE_STATUSES = new Set([502, 503, 504]);
/**
 * Failures to establish the connection at all (DNS lookup or TCP connect), so the tool cannot have
 * seen the request. A reset or socket error once connected (ECONNRESET, UND_ERR_SOCKET, EPIPE) is
 * deliberately absent: the tool may already have read the body and acted on it.
 */
const RETRYABLE_CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const UNDICI_TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

const PUBLIC_MESSAGE = {
  failed: 'The tool failed',
  invalid: 'Invalid answer from the tool',
  tooLarge: 'The answer from the tool is too large',
  unavailable: 'The tool is temporarily unavailable',
} as const;

/**
 * `message` is for logs (never contains the URL or the upstream body); `toGraphQLError()` is what
 * users see.
 */
export class UpstreamCallError extends Error {
  override name = 'UpstreamCallError';
  readonly code: UpstreamErrorCode;
  readonly reached: boolean;
  readonly attempts: number;
  private readonly publicMessage: string;

  constructor(
    code: UpstreamErrorCode,
    message: string,
    details: { reached: boolean; attempts: number; publicMessage?: string; cause?: unknown },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.reached = details.reached;
    this.attempts = details.attempts;
    this.publicMessage = details.publicMessage ?? PUBLIC_MESSAGE.failed;
  }

  toGraphQLError(): UpstreamError | UpstreamTimeoutError {
    return this.code === 'UPSTREAM_TIMEOUT'
      ? new UpstreamTimeoutError()
      : new UpstreamError(this.publicMessage);
  }
}

/** Why one attempt failed, before the retry loop decides what to do about it. */
class AttemptFailure extends Error {
  override name = 'AttemptFailure';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly publicMessage: string = PUBLIC_MESSAGE.failed,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

interface Target {
  /** The URL without credentials or fragment. */
  url: string;
  authorization: string | undefined;
}

type Run = () => Promise<UpstreamResult>;
type Breaker = CircuitBreaker<[Run], UpstreamResult>;

/** switchboard_upstream_breaker_state's values. */
const BREAKER_STATE = { closed: 0, halfOpen: 1, open: 2 } as const;

export class UpstreamClient {
  private readonly agent: Agent;
  private readonly breakers = new Map<string, Breaker>();
  private readonly maxResponseBytes: number;
  private readonly maxReportedTokens: number;
  private closed = false;

  constructor(private readonly options: UpstreamClientOptions) {
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.maxReportedTokens = options.maxReportedTokens ?? DEFAULT_MAX_REPORTED_TOKENS;
    // The agent's connect timeout is fixed per agent, so it is set to the whole budget; each call
    // additionally races every network step against its own deadline, which bounds the connect
    // by what is left of the budget.
    this.agent = new Agent({
      connect: {
        timeout: options.timeoutMs,
        ...(options.allowPrivateNetworks === false ? { lookup: publicOnlyLookup } : {}),
      },
    });
  }

  /**
   * breakerKey is the tool id: one circuit breaker per tool. `tool` names it in metrics and
   * traces (its slug; the breaker key when not given).
   */
  async call(
    breakerKey: string,
    url: string,
    input: unknown,
    requestId?: string,
    tool: string = breakerKey,
  ): Promise<UpstreamResult> {
    if (this.closed) {
      throw new UpstreamCallError('UPSTREAM_ERROR', 'upstream client is closed', {
        reached: false,
        attempts: 0,
      });
    }
    const target = parseTarget(url);
    if (this.options.allowPrivateNetworks === false) {
      const refusal = literalAddressRefusal(new URL(target.url).hostname);
      if (refusal !== null) {
        throw new UpstreamCallError('UPSTREAM_ERROR', `tool endpoint is ${refusal}`, {
          reached: false,
          attempts: 0,
          publicMessage: PUBLIC_MESSAGE.unavailable,
        });
      }
    }
    let body: string;
    try {
      body = JSON.stringify({ input });
    } catch (cause) {
      throw new UpstreamCallError('UPSTREAM_ERROR', 'tool input is not serialisable to JSON', {
        reached: false,
        attempts: 0,
        cause,
      });
    }

    const started = performance.now();
    const span = telemetry.enabled ? startToolSpan(tool, target.url) : null;
    try {
      const result = await this.breakerFor(breakerKey, tool).fire(() =>
        this.callWithRetries(target, body, requestId, span),
      );
      this.options.metrics?.upstreamDuration.observe(
        { tool, outcome: 'ok' },
        (performance.now() - started) / 1000,
      );
      if (span) {
        span.setAttribute('switchboard.tool.attempts', result.attempts);
        span.end();
      }
      return result;
    } catch (err) {
      const failure = asCallError(err);
      this.options.metrics?.upstreamDuration.observe(
        { tool, outcome: outcomeOf(failure) },
        (performance.now() - started) / 1000,
      );
      if (span) {
        span.setAttribute('switchboard.tool.attempts', failure.attempts);
        endFailed(span, outcomeOf(failure));
      }
      throw failure;
    }
  }

  breakerState(breakerKey: string): 'closed' | 'open' | 'half-open' {
    const breaker = this.breakers.get(breakerKey);
    if (breaker === undefined || breaker.closed) return 'closed';
    return breaker.halfOpen ? 'half-open' : 'open';
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const breaker of this.breakers.values()) breaker.shutdown();
    this.breakers.clear();
    await this.agent.close();
  }

  private breakerFor(key: string, tool: string): Breaker {
    const existing = this.breakers.get(key);
    if (existing !== undefined) return existing;
    const breaker: Breaker = new CircuitBreaker((run: Run) => run(), {
      name: `upstream:${key}`,
      timeout: false,
      rollingCountTimeout: BREAKER_WINDOW_MS,
      volumeThreshold: this.options.breakerFailures,
      errorThresholdPercentage: BREAKER_ERROR_PERCENTAGE,
      resetTimeout: this.options.breakerResetMs,
    });
    // Opossum keeps its rolling counts across a close, so the failures that opened the breaker
    // would still be in the window and a single new failure could re-open it at once. A recovered
    // tool gets a fresh breaker instead (the next call creates it).
    breaker.on('close', () => {
      if (this.breakers.get(key) === breaker) this.breakers.delete(key);
      breaker.shutdown();
    });
    const state = this.options.metrics?.breakerState;
    if (state) {
      state.set({ tool }, BREAKER_STATE.closed);
      breaker.on('open', () => state.set({ tool }, BREAKER_STATE.open));
      breaker.on('halfOpen', () => state.set({ tool }, BREAKER_STATE.halfOpen));
      breaker.on('close', () => state.set({ tool }, BREAKER_STATE.closed));
    }
    this.breakers.set(key, breaker);
    return breaker;
  }

  private async callWithRetries(
    target: Target,
    body: string,
    requestId: string | undefined,
    span: Span | null,
  ): Promise<UpstreamResult> {
    const deadline = Date.now() + this.options.timeoutMs;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error('upstream deadline exceeded'));
    }, this.options.timeoutMs);
    const timeoutError = (attempts: number, cause?: unknown): UpstreamCallError =>
      new UpstreamCallError(
        'UPSTREAM_TIMEOUT',
        `tool did not answer within ${this.options.timeoutMs} ms`,
        { reached: true, attempts, cause },
      );

    let attempts = 0;
    try {
      for (;;) {
        attempts += 1;
        try {
          const answer = await this.attempt(
            target,
            body,
            requestId,
            deadline,
            controller.signal,
            span,
          );
          return { ...answer, attempts };
        } catch (err) {
          if (timedOut || isUndiciTimeout(err)) throw timeoutError(attempts, err);
          if (causedBy(err, BlockedAddressError)) {
            // Refused before any connection: the tool never saw the request.
            throw new UpstreamCallError(
              'UPSTREAM_ERROR',
              'tool host resolves to a blocked address',
              {
                reached: false,
                attempts,
                publicMessage: PUBLIC_MESSAGE.unavailable,
                cause: err,
              },
            );
          }
          const failure =
            err instanceof AttemptFailure
              ? err
              : new AttemptFailure('upstream request failed', false, PUBLIC_MESSAGE.failed, err);
          if (!failure.retryable || attempts > this.options.retries) {
            throw new UpstreamCallError('UPSTREAM_ERROR', failure.message, {
              reached: true,
              attempts,
              publicMessage: failure.publicMessage,
              cause: failure.cause,
            });
          }
          const delay = backoffMs(this.options.retryBaseMs, attempts);
          // Waiting would use up the budget before the next attempt could start.
          if (Date.now() + delay >= deadline) throw timeoutError(attempts, failure);
          await sleep(delay);
        }
      }
    } finally {
      clearTimeout(timer);
      // Releases whatever is still tied to this call, such as an error body being drained.
      controller.abort(new Error('upstream call finished'));
    }
  }

  private async attempt(
    target: Target,
    body: string,
    requestId: string | undefined,
    deadline: number,
    signal: AbortSignal,
    span: Span | null,
  ): Promise<Omit<UpstreamResult, 'attempts'>> {
    const remaining = Math.max(1, deadline - Date.now());
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
    };
    if (requestId !== undefined) headers['x-request-id'] = requestId;
    if (target.authorization !== undefined) headers.authorization = target.authorization;
    // The tool continues the trace: traceparent names the call's span.
    if (span) propagation.inject(trace.setSpan(context.active(), span), headers);

    let response: Dispatcher.ResponseData;
    try {
      // No redirect interceptor is installed, so undici never follows a 3xx.
      response = await raceAbort(
        request(target.url, {
          dispatcher: this.agent,
          method: 'POST',
          headers,
          body,
          signal,
          headersTimeout: remaining,
          bodyTimeout: remaining,
        }),
        signal,
      );
    } catch (err) {
      // Only a connection that was never established is retried: once connected, the tool may
      // have read the body and acted on it even if no response header ever arrives.
      if (isRetryableConnectionError(err)) {
        throw new AttemptFailure(
          `connection to the tool failed before any response (${errorCode(err)})`,
          true,
          PUBLIC_MESSAGE.failed,
          err,
        );
      }
      throw err;
    }

    const { statusCode } = response;
    span?.setAttribute('http.response.status_code', statusCode);
    if (statusCode < 200 || statusCode >= 300) {
      // Drained in the background so the connection can be reused; the call's abort bounds it.
      response.body.dump({ limit: DRAIN_LIMIT_BYTES, signal }).catch(() => undefined);
      throw new AttemptFailure(
        `tool answered HTTP ${statusCode}`,
        RETRYABLE_STATUSES.has(statusCode),
      );
    }

    const raw = await readLimited(response, this.maxResponseBytes);
    return parseAnswer(raw, this.maxReportedTokens);
  }
}

/** What a failed call becomes: UpstreamCallError, whatever threw (the breaker, a bug). */
function asCallError(err: unknown): UpstreamCallError {
  if (err instanceof UpstreamCallError) return err;
  if (err instanceof Error && CircuitBreaker.isOurError(err)) {
    return new UpstreamCallError(
      'UPSTREAM_ERROR',
      `circuit breaker refused the call: ${err.message}`,
      {
        reached: false,
        attempts: 0,
        publicMessage: PUBLIC_MESSAGE.unavailable,
        cause: err,
      },
    );
  }
  return new UpstreamCallError('UPSTREAM_ERROR', 'upstream call failed unexpectedly', {
    reached: true,
    attempts: 0,
    cause: err,
  });
}

/** A failed call's outcome label: timeout, refused (the tool never saw it), or error. */
function outcomeOf(failure: UpstreamCallError): 'timeout' | 'refused' | 'error' {
  if (failure.code === 'UPSTREAM_TIMEOUT') return 'timeout';
  return failure.reached ? 'error' : 'refused';
}

/**
 * The tool call's client span: the endpoint's origin only (its path or query string may hold a
 * key, as webhook URLs do; the tool's slug names it), and no input or output.
 */
function startToolSpan(tool: string, url: string): Span | null {
  const parsed = new URL(url);
  return startClientSpan(`tool ${tool}`, {
    'http.request.method': 'POST',
    'url.full': parsed.origin,
    'server.address': parsed.hostname,
    'server.port': Number(parsed.port) || (parsed.protocol === 'https:' ? 443 : 80),
    'switchboard.tool': tool,
  });
}

function parseTarget(url: string): Target {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UpstreamCallError('UPSTREAM_ERROR', 'tool endpoint is not a valid URL', {
      reached: false,
      attempts: 0,
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UpstreamCallError('UPSTREAM_ERROR', 'tool endpoint must use http or https', {
      reached: false,
      attempts: 0,
    });
  }
  // undici silently drops credentials in the URL; send them as basic auth the way curl does.
  let authorization: string | undefined;
  if (parsed.username !== '' || parsed.password !== '') {
    const user = safeDecode(parsed.username);
    const password = safeDecode(parsed.password);
    authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    parsed.username = '';
    parsed.password = '';
  }
  parsed.hash = '';
  return { url: parsed.toString(), authorization };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * undici only honours an abort once the request is on a socket, so a connect that hangs would
 * outlive the deadline without this race.
 */
function raceAbort(
  pending: Promise<Dispatcher.ResponseData>,
  signal: AbortSignal,
): Promise<Dispatcher.ResponseData> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const onAbort = (): void => {
      if (settled) return;
      settled = true;
      reject(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (response) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) {
          response.body.destroy();
          return;
        }
        settled = true;
        resolve(response);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) return;
        settled = true;
        reject(err);
      },
    );
  });
}

async function readLimited(response: Dispatcher.ResponseData, limit: number): Promise<Buffer> {
  const tooLarge = (): AttemptFailure =>
    new AttemptFailure(`tool answer exceeds ${limit} bytes`, false, PUBLIC_MESSAGE.tooLarge);
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    response.body.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  // The request's abort signal also destroys the body, so a trickling answer cannot outlive the
  // deadline.
  for await (const chunk of response.body) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) throw tooLarge(); // leaving the loop destroys the stream
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size);
}

/** The answer object, its `output` and the 64 levels a JSON value may hold. */
const MAX_ANSWER_DEPTH = 66;

function parseAnswer(raw: Buffer, maxTokens: number): Omit<UpstreamResult, 'attempts'> {
  const invalid = (why: string): AttemptFailure =>
    new AttemptFailure(`invalid answer from the tool: ${why}`, false, PUBLIC_MESSAGE.invalid);
  let answer: unknown;
  const text = raw.toString('utf8');
  // The output is a JSON value, which may nest 64 levels (the JSON scalar's bound), inside the
  // answer object: deeper is refused before it is parsed, as a bad answer (UPSTREAM_ERROR, the
  // call recorded FAILED), not left to overflow the stack where its tokens are counted.
  if (nestsDeeperThan(text, MAX_ANSWER_DEPTH)) {
    throw invalid(`nested deeper than ${MAX_ANSWER_DEPTH} levels`);
  }
  try {
    answer = JSON.parse(text);
  } catch {
    throw invalid('not JSON');
  }
  if (!isPlainObject(answer)) throw invalid('not a JSON object');
  if (!Object.hasOwn(answer, 'output') || answer.output === undefined) {
    throw invalid('no output');
  }
  const { usage } = answer;
  if (usage === undefined || usage === null) return { output: answer.output, usage: null };
  if (!isPlainObject(usage)) throw invalid('usage is not an object');
  const isTokenCount = (value: unknown): value is number =>
    typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= maxTokens;
  const { inputTokens, outputTokens } = usage;
  if (!isTokenCount(inputTokens) || !isTokenCount(outputTokens)) {
    throw invalid('usage token counts must be integers between 0 and ' + maxTokens);
  }
  return { output: answer.output, usage: { inputTokens, outputTokens } };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function isUndiciTimeout(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && UNDICI_TIMEOUT_CODES.has(code);
}

function isRetryableConnectionError(err: unknown): boolean {
  // With happy eyeballs, Node reports a failure to reach every address as an AggregateError.
  if (err instanceof AggregateError && err.errors.length > 0) {
    return err.errors.every((inner) => isRetryableConnectionError(inner));
  }
  const code = errorCode(err);
  return code !== undefined && RETRYABLE_CONNECTION_CODES.has(code);
}

/** Attempt n (1-based) waits base * 2^(n-1), +-20 % jitter so retries from many calls spread. */
function backoffMs(baseMs: number, retry: number): number {
  const jitter = 0.8 + Math.random() * 0.4;
  return Math.round(baseMs * 2 ** (retry - 1) * jitter);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether `err` or anything in its cause chain is an instance of `type`. */
function causedBy(err: unknown, type: abstract new (...args: never[]) => Error): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 8 && e instanceof Error; depth += 1) {
    if (e instanceof type) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
