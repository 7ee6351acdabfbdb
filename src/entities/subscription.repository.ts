import { EntityRepository } from '@mikro-orm/postgresql';
import { query } from '../db/query';
import type { Subscription } from './subscription.entity';

/** The quota counters of subscriptions, changed only by single conditional statements. */
export class SubscriptionRepository extends EntityRepository<Subscription> {
  /**
   * Holds `amount` tokens against the quota of the month starting `monthStart`, in one UPDATE
   * that first rolls a row from an earlier month over. PostgreSQL re-checks the WHERE after the
   * row lock, so concurrent reservations queue and their sum can never pass the quota. The
   * period the reservation was checked against, or null when it does not fit.
   */
  async reserve(userId: string, amount: number, monthStart: Date, now: Date): Promise<Date | null> {
    const rows: { period_start: Date }[] = await query(
      this.getEntityManager(),
      `update subscriptions s set
          tokens_used = case when s.period_start < ? then 0 else s.tokens_used end,
          tokens_reserved = case when s.period_start < ? then 0 else s.tokens_reserved end + ?,
          period_start = greatest(s.period_start, ?),
          updated_at = ?
        from plans p
       where s.user_id = ? and p.tier = s.tier
         and (p.monthly_token_quota is null
              or (case when s.period_start < ? then 0 else s.tokens_used + s.tokens_reserved end) + ?
                 <= p.monthly_token_quota)
       returning s.period_start`,
      [monthStart, monthStart, amount, monthStart, now, userId, monthStart, amount],
    );
    return rows[0] ? new Date(rows[0].period_start) : null;
  }

  /** Tokens left in the month starting `monthStart` (used and reserved both count); 0 if none. */
  async remaining(userId: string, monthStart: Date): Promise<number> {
    const rows: { remaining: string | null }[] = await query(
      this.getEntityManager(),
      `select greatest(p.monthly_token_quota
                - (case when s.period_start < ? then 0 else s.tokens_used + s.tokens_reserved end), 0)
              as remaining
         from subscriptions s join plans p on p.tier = s.tier where s.user_id = ?`,
      [monthStart, userId],
    );
    return Number(rows[0]?.remaining ?? 0);
  }

  /**
   * Charges `charged` of a reservation of `reserved` tokens made in the period `periodStart`, and
   * releases the rest. A row rolled over to a later month since is left alone: that month's
   * quota never held the reservation.
   */
  async settle(
    userId: string,
    periodStart: Date,
    reserved: number,
    charged: number,
    now: Date,
  ): Promise<void> {
    await query(
      this.getEntityManager(),
      `update subscriptions set
          tokens_used = tokens_used + case when period_start = ? then ? else 0 end,
          tokens_reserved = case when period_start = ? then greatest(tokens_reserved - ?, 0)
                                 else tokens_reserved end,
          updated_at = ?
        where user_id = ?`,
      [periodStart, charged, periodStart, reserved, now, userId],
    );
  }
}
