import { EntityRepository } from '@mikro-orm/postgresql';
import { countRows, keysetPage, NEWEST_FIRST } from '../db/keyset';
import { query } from '../db/query';
import { SqlFilter } from '../db/sql-filter';
import { toGraphQLInt } from '../lib/numbers';
import type { Page } from '../lib/pagination';
import type { UsageStatus } from './enums';
import { UsageRecord } from './usage-record.entity';

export interface UsageRecordFilterValues {
  /** One user's records; everyone's when null. */
  userId: string | null;
  toolSlug?: string | null;
  status?: UsageStatus | null;
  from?: Date | null;
  to?: Date | null;
}

function recordFilter(filter: UsageRecordFilterValues): SqlFilter {
  return new SqlFilter()
    .given(filter.userId, 't.user_id = ?')
    .given(filter.toolSlug, 't.tool_id = (select id from tools where slug = ?)')
    .given(filter.status, 't.status = ?')
    .given(filter.from, 't.created_at >= ?')
    .given(filter.to, 't.created_at < ?');
}

export interface ToolTotals {
  toolId: string;
  calls: number;
  totalTokens: number;
}

export class UsageRecordRepository extends EntityRepository<UsageRecord> {
  /** Newest first. */
  page(
    filter: UsageRecordFilterValues,
    first: number,
    after: string | null | undefined,
  ): Promise<Page<UsageRecord>> {
    return keysetPage(this.getEntityManager(), UsageRecord, {
      table: 'usage_records',
      filter: recordFilter(filter),
      order: NEWEST_FIRST,
      first,
      after,
    });
  }

  /** Records under `filter`: the list's totalCount. */
  total(filter: UsageRecordFilterValues): Promise<number> {
    return countRows(this.getEntityManager(), 'usage_records', recordFilter(filter));
  }

  /** Calls made on the platform since `since`. */
  async callsSince(since: Date): Promise<number> {
    const rows: { n: string }[] = await query(
      this.getEntityManager(),
      `select count(*) as n from usage_records where created_at >= ?`,
      [since],
    );
    return toGraphQLInt(rows[0]?.n);
  }

  /** Tokens charged on the platform since `since`. */
  async tokensSince(since: Date): Promise<number> {
    const rows: { n: string }[] = await query(
      this.getEntityManager(),
      `select coalesce(sum(total_tokens), 0) as n from usage_records where created_at >= ?`,
      [since],
    );
    return toGraphQLInt(rows[0]?.n);
  }

  /** The `limit` tools with the most tokens since `since`, then the most calls. */
  async topTools(since: Date, limit: number): Promise<ToolTotals[]> {
    const rows: { tool_id: string; calls: string; tokens: string }[] = await query(
      this.getEntityManager(),
      `select tool_id, count(*) as calls, coalesce(sum(total_tokens), 0) as tokens
         from usage_records where created_at >= ?
        group by tool_id order by tokens desc, calls desc limit ?`,
      [since, limit],
    );
    return rows.map((row) => ({
      toolId: row.tool_id,
      calls: toGraphQLInt(row.calls),
      totalTokens: toGraphQLInt(row.tokens),
    }));
  }
}
