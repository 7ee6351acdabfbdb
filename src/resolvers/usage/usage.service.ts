import type { EntityManager } from '@mikro-orm/postgresql';
import { UsageRecord } from '../../entities';
import { usageTotalsSql } from '../../entities/usage-sums';
import { BadUserInputError } from '../../errors';
import { type Clock, monthOf } from '../../lib/clock';
import { isUuid } from '../../lib/ids';
import { countRows, newestFirstPage, pageSize } from '../../lib/pagination';
import { toGraphQLInt } from '../../lib/numbers';
import { uuidArray } from '../../lib/ids';
import {
  type UsageByDay,
  type UsageFilter,
  UsageRecordConnection,
  UsageSummary,
} from './usage.types';
import { query } from '../../db/query';

const MAX_RANGE_MS = 400 * 86_400_000;

export interface UsageRange {
  from: Date;
  /** null: up to now (the time of the statement that aggregates, the same for a whole batch). */
  to: Date | null;
}

export class UsageService {
  constructor(private readonly clock: Clock) {}

  /** The range asked for, defaulting to the current period up to now; at most ~13 months. */
  range(from?: Date | null, to?: Date | null): UsageRange {
    const now = this.clock.now();
    const start = from ?? monthOf(now).start;
    const end = to ?? now;
    if (start.getTime() >= end.getTime()) {
      throw new BadUserInputError('from must be before to', ['from', 'to']);
    }
    if (end.getTime() - start.getTime() > MAX_RANGE_MS) {
      throw new BadUserInputError('the range can span at most 400 days', ['from', 'to']);
    }
    return { from: start, to: to ?? null };
  }

  /** The usage of `userId` over `range`; its aggregates are read when asked for. */
  summary(userId: string, range: UsageRange): UsageSummary {
    return new UsageSummary(userId, range.from, range.to);
  }

  /** Usage records, newest first; one user's, or everyone's when `userId` is null (ADMIN). */
  records(
    em: EntityManager,
    userId: string | null,
    args: { first?: number | null; after?: string | null; filter?: UsageFilter | null },
  ): UsageRecordConnection {
    const first = pageSize(args.first);
    const where: string[] = [];
    const params: unknown[] = [];
    if (userId !== null) {
      if (!isUuid(userId)) throw new BadUserInputError('userId is not a valid id', ['userId']);
      where.push('t.user_id = ?');
      params.push(userId);
    }
    const f = args.filter;
    if (f?.toolSlug) {
      where.push('t.tool_id = (select id from tools where slug = ?)');
      params.push(f.toolSlug);
    }
    if (f?.status) {
      where.push('t.status = ?');
      params.push(f.status);
    }
    if (f?.from) {
      where.push('t.created_at >= ?');
      params.push(f.from);
    }
    if (f?.to) {
      where.push('t.created_at < ?');
      params.push(f.to);
    }
    return new UsageRecordConnection({
      page: () =>
        newestFirstPage(em, UsageRecord, 'usage_records', where, params, first, args.after),
      count: () => countRows(em, 'usage_records', where, params),
    });
  }
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

  async totals(userIds: readonly string[], range: UsageRange): Promise<Map<string, UsageTotals>> {
    const sums = usageTotalsSql('u.id', range.from, range.to ?? this.clock.now());
    const rows: { user_id: string; calls: string; tokens: string }[] = await query(
      this.em,
      `select u.id as user_id, s.calls, s.tokens
         from unnest(?::uuid[]) as u(id) cross join lateral (${sums.sql}) s`,
      [uuidArray(userIds), ...sums.params],
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

  async byDay(userIds: readonly string[], range: UsageRange): Promise<Map<string, UsageByDay[]>> {
    const [where, params] = this.where(userIds, range);
    const rows: { user_id: string; day: string; calls: string; tokens: string }[] = await query(
      this.em,
      `select u.user_id, to_char(u.created_at at time zone 'UTC', 'YYYY-MM-DD') as day,
                count(*) as calls, coalesce(sum(u.total_tokens), 0) as tokens
           from usage_records u where ${where} group by u.user_id, day order by day`,
      params,
    );
    const result = new Map<string, UsageByDay[]>();
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
