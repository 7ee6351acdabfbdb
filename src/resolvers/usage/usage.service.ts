import type { EntityManager } from '@mikro-orm/postgresql';
import { UsageRecord } from '../../entities';
import { BadUserInputError } from '../../errors';
import { type Clock, monthOf } from '../../lib/clock';
import { isUuid } from '../../lib/ids';
import { countRows, newestFirstPage, pageSize } from '../../lib/pagination';
import { toGraphQLInt } from '../../lib/numbers';
import type { Loaders } from '../../loaders';
import { type UsageFilter, UsageRecordConnection, type UsageSummary } from './usage.types';

const MAX_RANGE_MS = 400 * 86_400_000;

export interface UsageRange {
  from: Date;
  to: Date;
}

export class UsageService {
  constructor(private readonly clock: Clock) {}

  /** The range asked for, defaulting to the current period up to now; at most ~13 months. */
  range(from?: Date | null, to?: Date | null): UsageRange {
    const now = this.clock.now();
    const range = { from: from ?? monthOf(now).start, to: to ?? now };
    if (range.from.getTime() >= range.to.getTime()) {
      throw new BadUserInputError('from must be before to', ['from', 'to']);
    }
    if (range.to.getTime() - range.from.getTime() > MAX_RANGE_MS) {
      throw new BadUserInputError('the range can span at most 400 days', ['from', 'to']);
    }
    return range;
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

/**
 * Summaries for many users over one range, aggregated in SQL: three statements whatever the
 * number of users, each served by the (user_id, created_at) index that covers the columns.
 */
export async function summarizeUsage(
  em: EntityManager,
  loaders: Loaders,
  userIds: readonly string[],
  range: UsageRange,
): Promise<Map<string, UsageSummary>> {
  const ids = [...userIds];
  const params = [ids, range.from, range.to];
  const where = `u.user_id = any(array[?]::uuid[]) and u.created_at >= ? and u.created_at < ?`;
  const [totals, byTool, byDay] = await Promise.all([
    em.execute<{ user_id: string; calls: string; tokens: string }[]>(
      `select u.user_id, count(*) as calls, coalesce(sum(u.total_tokens), 0) as tokens
         from usage_records u where ${where} group by u.user_id`,
      params,
    ),
    em.execute<{ user_id: string; tool_id: string; calls: string; tokens: string }[]>(
      `select u.user_id, u.tool_id, count(*) as calls, coalesce(sum(u.total_tokens), 0) as tokens
         from usage_records u where ${where}
        group by u.user_id, u.tool_id order by tokens desc, calls desc, u.tool_id`,
      params,
    ),
    em.execute<{ user_id: string; day: string; calls: string; tokens: string }[]>(
      `select u.user_id, to_char(u.created_at at time zone 'UTC', 'YYYY-MM-DD') as day,
              count(*) as calls, coalesce(sum(u.total_tokens), 0) as tokens
         from usage_records u where ${where} group by u.user_id, day order by day`,
      params,
    ),
  ]);
  const result = new Map<string, UsageSummary>();
  for (const id of ids) result.set(id, { calls: 0, totalTokens: 0, byTool: [], byDay: [] });
  for (const row of totals) {
    const s = result.get(row.user_id)!;
    s.calls = toGraphQLInt(row.calls);
    s.totalTokens = toGraphQLInt(row.tokens);
  }
  const tools = await loaders.tool.loadMany([...new Set(byTool.map((r) => r.tool_id))]);
  const toolById = new Map(
    tools.flatMap((t) => (t && !(t instanceof Error) ? [[t.id, t] as const] : [])),
  );
  for (const row of byTool) {
    const tool = toolById.get(row.tool_id);
    if (!tool) continue;
    result.get(row.user_id)!.byTool.push({
      tool,
      calls: toGraphQLInt(row.calls),
      totalTokens: toGraphQLInt(row.tokens),
    });
  }
  for (const row of byDay) {
    result.get(row.user_id)!.byDay.push({
      day: row.day,
      calls: toGraphQLInt(row.calls),
      totalTokens: toGraphQLInt(row.tokens),
    });
  }
  return result;
}
