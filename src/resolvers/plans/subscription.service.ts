import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { SignedInViewer } from '../../auth/viewer';
import { Plan, Subscription } from '../../entities';
import type { PlanTier } from '../../entities/enums';
import { NotFoundError, QuotaExceededError } from '../../errors';
import { type Clock, monthOf } from '../../lib/clock';
import { requireId } from '../../lib/ids';
import { toGraphQLInt } from '../../lib/numbers';
import type { Loaders } from '../../loaders';
import type { AuditService } from '../../audit/audit.service';
import type { SubscriptionView } from './subscription.types';

export interface Reservation {
  userId: string;
  /** The period whose quota the reservation was checked against; the call is charged there. */
  periodStart: Date;
  amount: number;
  /** When it was made: the call's time, which dates its usage record in that same period. */
  at: Date;
}

/** Counters of a row from an earlier month count as zero: the period rolls over by itself. */
function current(sub: { periodStart: Date; tokensUsed: number }, monthStart: Date) {
  return sub.periodStart.getTime() < monthStart.getTime() ? 0 : toGraphQLInt(sub.tokensUsed);
}

/** How long a process serves its copy of the plan list. */
export const PLANS_TTL_MS = 30_000;

export class SubscriptionService {
  private planList: { at: number; plans: Plan[] } | null = null;

  constructor(
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  /**
   * Every plan, lowest first. Plans change only by migration or an operator's SQL (no API
   * writes them), so the list is read at most once every PLANS_TTL_MS per process: `plans` is
   * public and anonymous, and a database read per call would make it the cheapest way to load
   * the database. Quotas are never checked against this copy (reservations read the row).
   */
  async plans(em: EntityManager): Promise<Plan[]> {
    const now = this.clock.now().getTime();
    const cached = this.planList;
    if (cached && now >= cached.at && now - cached.at < PLANS_TTL_MS) return cached.plans;
    const plans = await em.getRepository(Plan).listPlain();
    this.planList = { at: now, plans };
    return plans;
  }

  view(sub: Subscription, plan: Plan): SubscriptionView {
    const month = monthOf(this.clock.now());
    const used = current(sub, month.start);
    return {
      id: sub.id,
      plan,
      currentPeriodStart: month.start,
      currentPeriodEnd: month.end,
      tokensUsed: used,
      tokensRemaining:
        plan.monthlyTokenQuota === null ? null : Math.max(0, plan.monthlyTokenQuota - used),
    };
  }

  async viewFor(loaders: Loaders, userId: string): Promise<SubscriptionView> {
    const sub = await loaders.subscription.load(userId);
    if (!sub) throw new NotFoundError('Subscription');
    return this.view(sub, await loaders.plan.load(sub.tier));
  }

  /**
   * The subscription as transaction `tx` sees it (a charge just made in it included), read with
   * `tx` alone: an answer built in the charge's transaction needs nothing of the database once
   * it commits.
   */
  async viewIn(tx: EntityManager, userId: string): Promise<SubscriptionView> {
    const sub = await tx.findOne(Subscription, { user: userId }, { refresh: true });
    if (!sub) throw new NotFoundError('Subscription');
    const plan = (await this.plans(tx)).find((p) => p.tier === sub.tier);
    if (!plan) throw new NotFoundError('Plan');
    return this.view(sub, plan);
  }

  /** Upgrades apply at once; a downgrade keeps what was already spent this period. */
  async changePlan(em: EntityManager, viewer: SignedInViewer, tier: PlanTier) {
    return this.setTier(em, viewer.account.id, tier);
  }

  /** ADMIN: puts a user on a plan, audited in the same transaction. */
  async setUserPlan(em: EntityManager, actor: SignedInViewer, userId: string, tier: PlanTier) {
    requireId(userId, 'userId');
    return this.setTier(em, userId, tier, (tx, before) =>
      this.audit.record(tx, actor, 'user.setPlan', 'User', userId, {
        before: { tier: before },
        after: { tier },
      }),
    );
  }

  private async setTier(
    em: EntityManager,
    userId: string,
    tier: PlanTier,
    onChange?: (tx: EntityManager, before: PlanTier) => void,
  ): Promise<SubscriptionView> {
    return em.transactional(async (tx) => {
      const sub = await tx.findOne(
        Subscription,
        { user: userId },
        { lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      if (!sub) throw new NotFoundError('User');
      const plan = await tx.findOneOrFail(Plan, { tier });
      const before = sub.tier;
      if (tier !== before) {
        sub.tier = tier;
        sub.updatedAt = this.clock.now();
      }
      onChange?.(tx, before);
      await tx.flush();
      return this.view(sub, plan);
    });
  }

  /**
   * Holds `amount` tokens against the quota in one UPDATE. The row lock and the re-checked
   * WHERE make concurrent reservations from any number of server processes queue on the
   * row, so the sum of used and reserved tokens can never pass the quota.
   */
  async reserve(em: EntityManager, userId: string, amount: number): Promise<Reservation> {
    const now = this.clock.now();
    const monthStart = monthOf(now).start;
    const subscriptions = em.getRepository(Subscription);
    const periodStart = await subscriptions.reserve(userId, amount, monthStart, now);
    if (periodStart) return { userId, periodStart, amount, at: now };
    throw new QuotaExceededError(await subscriptions.remaining(userId, monthStart), amount);
  }

  /**
   * Turns a reservation into a charge of `charged` (at most the reservation) and releases the
   * rest. Runs inside the caller's transaction, with the usage record it pays for. The charge
   * belongs to the reservation's period: if a later call has since rolled the row over to a new
   * month, that month's quota never held this call, so its counters are left alone.
   */
  async settle(tx: EntityManager, reservation: Reservation, charged: number): Promise<void> {
    await tx
      .getRepository(Subscription)
      .settle(
        reservation.userId,
        reservation.periodStart,
        reservation.amount,
        charged,
        this.clock.now(),
      );
  }
}
