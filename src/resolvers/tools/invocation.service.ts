import { createHash } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { SignedInViewer } from '../../auth/viewer';
import { ApiKey, IdempotencyClaim, Tool, UsageRecord, User } from '../../entities';
import { TIER_RANK, UsageStatus } from '../../entities/enums';
import {
  AppError,
  BadUserInputError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  ServiceUnavailableError,
  UpstreamError,
  UpstreamTimeoutError,
} from '../../errors';
import type { Clock } from '../../lib/clock';
import { outsideDeadline } from '../../db/deadline';
import { isDatabaseUnavailable } from '../../db/unavailable';
import type { Metrics } from '../../metrics';
import type { RateLimiter } from '../../lib/rate-limit';
import type { Loaders } from '../../loaders';
import type { SubscriptionService, Reservation } from '../plans/subscription.service';
import type { SubscriptionView } from '../plans/subscription.types';
import { getBuiltinTool } from '../../tools/builtins';
import type { InputValidator } from './input-validator';
import type { ToolService } from './tool.service';
import type { ToolInvocation } from './tool.types';
import { UpstreamCallError, type UpstreamClient } from '../../upstream/upstream-client';
import { unstorableTextPaths } from '../../lib/text';

/** Tokens of a JSON value when the tool reports none: ceil(characters / 4). */
export function estimateTokens(value: unknown): number {
  return Math.ceil((JSON.stringify(value) ?? '').length / 4);
}

function requestHash(slug: string, input: unknown): string {
  return createHash('sha256')
    .update(`${slug}\n${canonicalJson(input)}`)
    .digest('hex');
}

/** JSON with object keys sorted, so that `{a,b}` and `{b,a}` are the same request. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Refuses text that could not be stored (a built-in tool's output, kept for replays, may echo
 * it). Nesting is already bounded by the JSON scalar (MAX_JSON_DEPTH) before this runs.
 */
function checkInput(input: unknown): void {
  const unstorable = unstorableTextPaths(input, 'input');
  if (unstorable.length > 0) {
    throw new BadUserInputError(
      `input must not contain NUL characters or unpaired surrogates: ${unstorable.join(', ')}`,
      unstorable,
    );
  }
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/** The contract code of an error a call failed with. */
function codeOf(err: unknown): string {
  if (err instanceof AppError) return String(err.extensions.code);
  return isDatabaseUnavailable(err) ? 'SERVICE_UNAVAILABLE' : 'INTERNAL_SERVER_ERROR';
}

/** The error a duplicate answers for a call that failed with `code`. */
function errorOfCode(code: string): AppError {
  switch (code) {
    case 'UPSTREAM_TIMEOUT':
      return new UpstreamTimeoutError();
    case 'UPSTREAM_ERROR':
      return new UpstreamError();
    case 'BAD_USER_INPUT':
      return new BadUserInputError('The tool refused this input', ['input']);
    default:
      return new ServiceUnavailableError(
        'The earlier call with this idempotencyKey failed; retry with the same key',
      );
  }
}
const MAX_INPUT_CHARS = 1_000_000;

interface Outcome {
  status: UsageStatus;
  output: unknown;
  inputTokens: number;
  outputTokens: number;
  charged: number;
  errorCode: string | null;
  latencyMs: number;
  /** What a FAILED call answers the caller, after it is recorded. */
  error: AppError | null;
}

/**
 * invokeTool: the checks that refuse a call before it runs (and write nothing), the quota
 * reservation, the call, and the one transaction that charges, records and settles it.
 */
export class InvocationService {
  constructor(
    private readonly tools: ToolService,
    private readonly subscriptions: SubscriptionService,
    private readonly validator: InputValidator,
    private readonly upstream: UpstreamClient,
    private readonly rateLimiter: RateLimiter,
    private readonly clock: Clock,
    /** The longest one call can take: how long a duplicate waits, and when a claim is stale. */
    private readonly claimTtlMs: number,
    private readonly metrics?: Metrics,
  ) {}

  async invoke(
    em: EntityManager,
    loaders: Loaders,
    viewer: SignedInViewer,
    requestId: string,
    args: { slug: string; input: unknown; idempotencyKey?: string | null },
  ): Promise<ToolInvocation> {
    const userId = viewer.account.id;
    const key = args.idempotencyKey ?? null;
    if (key !== null && !IDEMPOTENCY_KEY.test(key)) {
      throw new BadUserInputError('idempotencyKey must be 1 to 200 printable characters', [
        'idempotencyKey',
      ]);
    }
    checkInput(args.input);
    if (args.input === undefined || (JSON.stringify(args.input) ?? '').length > MAX_INPUT_CHARS) {
      throw new BadUserInputError('input is missing or too large', ['input']);
    }
    const tool = await this.tools.bySlug(em, args.slug);
    if (!tool) throw new NotFoundError('Tool');

    // Refusals that need no call: nothing is reserved, called or recorded.
    if (
      tool.endpointUrl ? !this.tools.endpointAllowed(tool.endpointUrl) : !getBuiltinTool(tool.slug)
    ) {
      throw new UpstreamError('This tool is not available');
    }
    const sub = await loaders.subscription.load(userId);
    if (!sub) throw new NotFoundError('Subscription');
    const plan = await loaders.plan.load(sub.tier);
    if (TIER_RANK[plan.tier] < TIER_RANK[tool.requiredTier]) {
      throw new ForbiddenError(`${tool.slug} needs the ${tool.requiredTier} plan or higher`, {
        requiredTier: tool.requiredTier,
        currentTier: plan.tier,
      });
    }

    const hash = key ? requestHash(tool.slug, args.input) : null;
    if (key) {
      const replay = await this.replay(em, loaders, userId, key, hash!);
      if (replay) return replay;
    }

    this.validator.validate(`${tool.id}:${tool.updatedAt.getTime()}`, tool.inputSchema, args.input);
    const estimatedInput = estimateTokens(args.input);
    let reservation: Reservation;
    try {
      await this.rateLimiter.consume('invoke', userId, plan.requestsPerMinute);
      reservation = await this.subscriptions.reserve(
        em,
        userId,
        estimatedInput + tool.maxOutputTokens,
      );
    } catch (err) {
      // Counted by reason in /metrics: quota_exceeded, rate_limited, unavailable or error.
      this.metrics?.quotaRefused(err);
      throw err;
    }
    this.metrics?.quotaReserved();

    if (key) {
      if (!(await this.claim(em, userId, key, hash!))) {
        // The same key is in flight elsewhere: wait for that call instead of calling again.
        await this.subscriptions.settle(em, reservation, 0);
        return this.awaitOther(em, loaders, userId, key, hash!);
      }
      // A call that finished between the replay check above and this claim wrote its record
      // before it let the key go: it is visible now, and it is the answer.
      const finished = await this.replay(em, loaders, userId, key, hash!);
      if (finished) {
        await this.subscriptions.settle(em, reservation, 0);
        await this.unclaim(em, userId, key);
        return finished;
      }
    }

    let outcome: Outcome;
    try {
      // The tool's time is its own (TOOL_TIMEOUT_MS), not the database deadline's.
      outcome = await outsideDeadline(() =>
        this.run(tool, args.input, estimatedInput, reservation, requestId),
      );
    } catch (err) {
      // Not reached (the breaker refused fast): nothing to record, everything to release.
      const error = err instanceof UpstreamCallError ? err.toGraphQLError() : err;
      await this.subscriptions.settle(em, reservation, 0);
      if (key) await this.failClaim(em, userId, key, codeOf(error));
      throw error;
    }
    this.metrics?.toolCalls.inc({ tool: tool.slug, status: outcome.status });
    if (outcome.charged > 0) this.metrics?.toolTokens.inc({ tool: tool.slug }, outcome.charged);

    let record: UsageRecord;
    let subscription: SubscriptionView;
    try {
      // The answer's subscription is read in the charge's own transaction: once a call is
      // charged, its answer needs nothing more of the database, so a pool or a deadline that
      // runs out after the commit cannot answer SERVICE_UNAVAILABLE ("nothing was written")
      // for a call that was charged, which a client would retry and pay for twice.
      ({ record, subscription } = await em.transactional(async (tx) => {
        await this.subscriptions.settle(tx, reservation, outcome.charged);
        const record = tx.create(UsageRecord, {
          user: tx.getReference(User, userId),
          tool: tx.getReference(Tool, tool.id),
          apiKey: viewer.via === 'apiKey' ? tx.getReference(ApiKey, viewer.apiKeyId) : null,
          inputTokens: outcome.inputTokens,
          outputTokens: outcome.outputTokens,
          totalTokens: outcome.charged,
          status: outcome.status,
          errorCode: outcome.errorCode,
          latencyMs: outcome.latencyMs,
          // The reservation's time, so the record falls in the period that was charged.
          createdAt: reservation.at,
          idempotencyKey: outcome.status === UsageStatus.SUCCEEDED ? key : null,
          requestHash: outcome.status === UsageStatus.SUCCEEDED ? hash : null,
          output: outcome.status === UsageStatus.SUCCEEDED && key ? outcome.output : null,
        });
        await tx.flush();
        // Success: the record now holds the key, in the same commit that lets the claim go.
        // Failure: the claim keeps the error for duplicates waiting on it.
        if (key && outcome.status === UsageStatus.SUCCEEDED) await this.unclaim(tx, userId, key);
        else if (key) await this.failClaim(tx, userId, key, outcome.errorCode ?? 'UPSTREAM_ERROR');
        const subscription = outcome.error ? null : await this.subscriptions.viewIn(tx, userId);
        return { record, subscription: subscription! };
      }));
    } catch (err) {
      // Nothing was charged or recorded: release the reservation and free the key, whatever
      // went wrong, so that neither is held until the quota or the claim runs out.
      await this.subscriptions.settle(em, reservation, 0);
      if (key) await this.failClaim(em, userId, key, codeOf(err));
      if (err instanceof UniqueConstraintViolationException && key) {
        // A concurrent call with the same key won: answer with its result.
        const replay = await this.replay(em.fork(), loaders, userId, key, hash!);
        if (replay) return replay;
      }
      throw err;
    }
    if (outcome.error) throw outcome.error;
    loaders.subscription.clear(userId);
    // The record's tool is the one just called: its answer reads it from here, not the database.
    loaders.tool.clear(tool.id).prime(tool.id, tool);
    return { output: outcome.output, usage: record, subscription, replayed: false };
  }

  /**
   * Takes the key for this call. A claim older than the longest a call can take belongs to a
   * process that died mid-call and is taken over.
   */
  private async claim(em: EntityManager, userId: string, key: string, hash: string) {
    const now = this.clock.now();
    return em
      .getRepository(IdempotencyClaim)
      .claim(userId, key, hash, now, new Date(now.getTime() - this.claimTtlMs));
  }

  private async unclaim(em: EntityManager, userId: string, key: string): Promise<void> {
    await em.getRepository(IdempotencyClaim).release(userId, key);
  }

  /**
   * Leaves the failure's code on the claim: duplicates waiting on this call answer it, and the
   * next call with the key takes the claim over. Best effort: if even this cannot be written,
   * the claim goes stale after claimTtlMs and waiters answer SERVICE_UNAVAILABLE.
   */
  private async failClaim(em: EntityManager, userId: string, key: string, code: string) {
    await em
      .getRepository(IdempotencyClaim)
      .fail(userId, key, code)
      .catch(() => undefined);
  }

  /**
   * Waits for the call that holds `key`: its result is replayed, its failure answered with the
   * same code. The record and the claim are read in one statement (one snapshot): the winner
   * writes its record and lets the claim go in one commit, so the two are never both missing
   * while it succeeds.
   */
  private async awaitOther(
    em: EntityManager,
    loaders: Loaders,
    userId: string,
    key: string,
    hash: string,
  ): Promise<ToolInvocation> {
    const deadline = Date.now() + this.claimTtlMs;
    while (Date.now() < deadline) {
      const seen = await em.getRepository(IdempotencyClaim).outcome(userId, key);
      if (seen.recordId) {
        const replay = await this.replay(em, loaders, userId, key, hash);
        if (replay) return replay;
      }
      if (seen.claimHash !== null && seen.claimHash !== hash) {
        throw new ConflictError('This idempotencyKey was used with a different input');
      }
      if (seen.errorCode) throw errorOfCode(seen.errorCode);
      if (seen.claimHash === null) {
        // Neither a record nor a claim: the other call ended without a trace it could write.
        throw new ServiceUnavailableError(
          'The earlier call with this idempotencyKey did not finish; retry with the same key',
        );
      }
      await outsideDeadline(() => new Promise((resolve) => setTimeout(resolve, 50)));
    }
    // Past the longest a call can take: its process is gone; the next retry takes the claim.
    throw new ServiceUnavailableError(
      'The earlier call with this idempotencyKey did not finish; retry with the same key',
    );
  }

  private async replay(
    em: EntityManager,
    loaders: Loaders,
    userId: string,
    key: string,
    hash: string,
  ): Promise<ToolInvocation | null> {
    const record = await em.findOne(UsageRecord, { user: userId, idempotencyKey: key });
    if (!record) return null;
    if (record.requestHash !== hash) {
      throw new ConflictError('This idempotencyKey was used with a different input');
    }
    return this.answer(loaders, userId, record.output, record, true);
  }

  /** The invocation's answer, with the subscription as it is now (not as loaded earlier). */
  private async answer(
    loaders: Loaders,
    userId: string,
    output: unknown,
    usage: UsageRecord,
    replayed: boolean,
  ): Promise<ToolInvocation> {
    loaders.subscription.clear(userId);
    const subscription = await this.subscriptions.viewFor(loaders, userId);
    return { output, usage, subscription, replayed };
  }

  /** Runs the tool; a failure that reached it becomes a FAILED outcome, charged nothing. */
  private async run(
    tool: Tool,
    input: unknown,
    estimatedInput: number,
    reservation: Reservation,
    requestId: string,
  ): Promise<Outcome> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    let output: unknown;
    let reported: { inputTokens: number; outputTokens: number } | null = null;
    try {
      if (tool.endpointUrl) {
        const result = await this.upstream.call(
          tool.id,
          tool.endpointUrl,
          input,
          requestId,
          tool.slug,
        );
        // PostgreSQL cannot store NUL or unpaired surrogates: an answer carrying one is not usable.
        if (unstorableTextPaths(result.output, 'output', 1).length > 0) {
          throw new UpstreamError('Invalid answer from the tool');
        }
        output = result.output;
        reported = result.usage;
      } else {
        output = getBuiltinTool(tool.slug)!.run(input);
      }
    } catch (err) {
      if (err instanceof UpstreamCallError && !err.reached) throw err;
      const error =
        err instanceof UpstreamCallError
          ? err.toGraphQLError()
          : err instanceof AppError
            ? err
            : new UpstreamError();
      return {
        status: UsageStatus.FAILED,
        output: null,
        inputTokens: 0,
        outputTokens: 0,
        charged: 0,
        errorCode: String(error.extensions.code),
        latencyMs: elapsed(),
        error,
      };
    }
    let inputTokens = reported ? reported.inputTokens : estimatedInput;
    let outputTokens = reported ? reported.outputTokens : estimateTokens(output);
    // Never charge more than was reserved: the quota check was made against that amount.
    if (inputTokens + outputTokens > reservation.amount) {
      inputTokens = Math.min(inputTokens, reservation.amount);
      outputTokens = reservation.amount - inputTokens;
    }
    return {
      status: UsageStatus.SUCCEEDED,
      output,
      inputTokens,
      outputTokens,
      charged: inputTokens + outputTokens,
      errorCode: null,
      latencyMs: elapsed(),
      error: null,
    };
  }
}
