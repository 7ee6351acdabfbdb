import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/query';
import type { Clock } from '../lib/clock';
import { uuidArray } from '../lib/ids';
import { toGraphQLInt } from '../lib/numbers';
import { usageWindow, usageWindowParams } from './usage-sums';

export interface UsageRange {
  from: Date;
  /** null: up to now (the time of the statement that aggregates, the same for a whole batch). */
  to: Date | null;
}

export interface UsageByDayRow {
  /** YYYY-MM-DD, UTC. */
  day: string;
  calls: number;
  totalTokens: number;
}

export interface UsageTotals {
  calls: number;
  totalTokens: number;
}
export interface UsageByToolRow {
  toolId: string;
  calls: number;
  totalTokens: number;
}

/**
 * Usage aggregates for many users over one range, each in one statement whatever the number of
 * users, served by the (user_id, created_at) index that covers the columns.
 */
export class UsageAggregates {
  constructor(
    private readonly em: EntityManager,
    private readonly clock: Clock,
  ) {}

  private where(userIds: readonly string[], range: UsageRange): [string, unknown[]] {
    return [
      `u.user_id = any(?::uuid[]) and u.created_at >= ? and u.created_at < ?`,
      [uuidArray(userIds), range.from, range.to ?? this.clock.now()],
    ];
  }

  /** The rows of a usage function over `range`'s pieces (usageWindow) for `userIds`. */
  private overWindow<R>(
    fn: 'usage_totals' | 'usage_by_day',
    userIds: readonly string[],
    range: UsageRange,
  ): Promise<R[]> {
    const w = usageWindow(range.from, range.to ?? this.clock.now());
    return query(
      this.em,
      `select * from ${fn}(?::uuid[], ?::timestamptz, ?::timestamptz, ?::date, ?::date,
        ?::timestamptz, ?::timestamptz)`,
      [uuidArray(userIds), ...usageWindowParams(w)],
    );
  }

  async totals(userIds: readonly string[], range: UsageRange): Promise<Map<string, UsageTotals>> {
    // usageTotalsSql's sums for each user, through `usage_totals` (migration 20261202030000).
    const rows = await this.overWindow<{ user_id: string; calls: string; tokens: string }>(
      'usage_totals',
      userIds,
      range,
    );
    const result = new Map<string, UsageTotals>();
    for (const row of rows) {
      result.set(row.user_id, {
        calls: toGraphQLInt(row.calls),
        totalTokens: toGraphQLInt(row.tokens),
      });
    }
    return result;
  }

  async byTool(
    userIds: readonly string[],
    range: UsageRange,
  ): Promise<Map<string, UsageByToolRow[]>> {
    const [where, params] = this.where(userIds, range);
    const rows: { user_id: string; tool_id: string; calls: string; tokens: string }[] = await query(
      this.em,
      `select u.user_id, u.tool_id, count(*) as calls, coalesce(sum(u.total_tokens), 0) as tokens
           from usage_records u where ${where}
          group by u.user_id, u.tool_id order by tokens desc, calls desc, u.tool_id`,
      params,
    );
    const result = new Map<string, UsageByToolRow[]>();
    for (const row of rows) {
      let list = result.get(row.user_id);
      if (!list) result.set(row.user_id, (list = []));
      list.push({
        toolId: row.tool_id,
        calls: toGraphQLInt(row.calls),
        totalTokens: toGraphQLInt(row.tokens),
      });
    }
    return result;
  }

  async byDay(
    userIds: readonly string[],
    range: UsageRange,
  ): Promise<Map<string, UsageByDayRow[]>> {
    // Whole days from the sums kept per UTC day, the partial days at either edge from the
    // records, through `usage_by_day` (migration 20261202020000).
    const rows = await this.overWindow<{
      user_id: string;
      day: string;
      calls: string;
      tokens: string;
    }>('usage_by_day', userIds, range);
    const result = new Map<string, UsageByDayRow[]>();
    for (const row of rows) {
      let list = result.get(row.user_id);
      if (!list) result.set(row.user_id, (list = []));
      list.push({
        day: row.day,
        calls: toGraphQLInt(row.calls),
        totalTokens: toGraphQLInt(row.tokens),
      });
    }
    return result;
  }
}
