import type { EntityManager } from '@mikro-orm/postgresql';
import { TaskStatus } from '../../entities/enums';
import { BadUserInputError } from '../../errors';
import { toGraphQLInt } from '../../lib/numbers';
import type { Loaders } from '../../loaders';
import type { UsageByTool } from '../usage/usage.types';
import { query } from '../../db/query';

function days(last: number | null | undefined): number {
  const value = last ?? 30;
  if (!Number.isInteger(value) || value < 1 || value > 366) {
    throw new BadUserInputError('last must be 1 to 366 days', ['last']);
  }
  return value;
}

/**
 * Platform statistics in a handful of aggregate statements, never per user: the totals in
 * two, and each usage figure in one more, only when it is asked for.
 */
export class StatsService {
  async totals(em: EntityManager) {
    const [users, tasks] = await Promise.all([
      query<{ users: string; active: string; admins: string }[]>(
        em,
        `select count(*) as users, count(*) filter (where is_active) as active,
                count(*) filter (where role = 'ADMIN' and is_active) as admins from users`,
      ),
      query<{ status: TaskStatus; n: string }[]>(
        em,
        `select status, count(*) as n from tasks group by status`,
      ),
    ]);
    const byStatus = new Map(tasks.map((row) => [row.status, toGraphQLInt(row.n)]));
    const tasksByStatus = Object.values(TaskStatus).map((status) => ({
      status,
      count: byStatus.get(status) ?? 0,
    }));
    return {
      users: toGraphQLInt(users[0]?.users ?? 0),
      activeUsers: toGraphQLInt(users[0]?.active ?? 0),
      admins: toGraphQLInt(users[0]?.admins ?? 0),
      tasks: tasksByStatus.reduce((sum, s) => sum + s.count, 0),
      tasksByStatus,
    };
  }

  async calls(em: EntityManager, last: number | null | undefined): Promise<number> {
    const rows = await query<{ n: string }[]>(
      em,
      `select count(*) as n from usage_records where created_at >= now() - make_interval(days => ?)`,
      [days(last)],
    );
    return toGraphQLInt(rows[0]?.n ?? 0);
  }

  async tokens(em: EntityManager, last: number | null | undefined): Promise<number> {
    const rows = await query<{ n: string }[]>(
      em,
      `select coalesce(sum(total_tokens), 0) as n from usage_records
        where created_at >= now() - make_interval(days => ?)`,
      [days(last)],
    );
    return toGraphQLInt(rows[0]?.n ?? 0);
  }

  /** The tools with the most tokens in the last 30 days. */
  async topTools(
    em: EntityManager,
    loaders: Loaders,
    limit: number | null | undefined,
  ): Promise<UsageByTool[]> {
    const n = limit ?? 5;
    if (!Number.isInteger(n) || n < 1 || n > 50) {
      throw new BadUserInputError('limit must be 1 to 50', ['limit']);
    }
    const rows = await query<{ tool_id: string; calls: string; tokens: string }[]>(
      em,
      `select tool_id, count(*) as calls, coalesce(sum(total_tokens), 0) as tokens
         from usage_records where created_at >= now() - interval '30 days'
        group by tool_id order by tokens desc, calls desc limit ?`,
      [n],
    );
    return rows.map((row) => ({
      toolId: row.tool_id,
      calls: toGraphQLInt(row.calls),
      totalTokens: toGraphQLInt(row.tokens),
    }));
  }
}
