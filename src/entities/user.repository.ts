import { EntityRepository } from '@mikro-orm/postgresql';
import type { ViewerAccount } from '../auth/viewer';
import {
  countRows,
  decodeKeysetCursor,
  keysetPage,
  NEWEST_FIRST,
  type HeadStatement,
  type KeptPage,
} from '../db/keyset';
import { Coalescer } from '../db/coalesce';
import { query } from '../db/query';
import { SqlFilter } from '../db/sql-filter';
import { uuidArray } from '../lib/ids';
import { toGraphQLInt } from '../lib/numbers';
import type { Page } from '../lib/pagination';
import { toPlain } from '../lib/rows';
import type { Role } from './enums';
import type { UsageTotals } from './usage-aggregates';
import { usageTotalsSql, usageWindow, usageWindowParams } from './usage-sums';
import { User } from './user.entity';

/**
 * `session_account` (migration 20261201130000), whose columns are VIEWER_ACCOUNT_COLUMNS: calls
 * by concurrent requests go together (db/coalesce.ts).
 */
const SESSION_ACCOUNTS = new Coalescer({ name: 'session_account', types: ['uuid', 'uuid'] });

/** The account's public columns over `users u`, as a viewer holds them. */
export const VIEWER_ACCOUNT_COLUMNS =
  'u.id, u.email, u.name, u.role, u.is_active, u.created_at, u.updated_at';

export interface ViewerAccountRow {
  id: string;
  email: string;
  name: string;
  role: Role;
  is_active: boolean;
  created_at: Date;
  updated_at: Date;
}

export function toViewerAccount(row: ViewerAccountRow): ViewerAccount {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    isActive: row.is_active,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** A live session's active account: `columns` over `users u`, for session `?` and user `?`. */
function activeBySessionSql(columns: string): string {
  return `select ${columns} from users u
            join auth_sessions s on s.user_id = u.id and s.id = ? and s.revoked_at is null
           where u.id = ? and u.is_active`;
}

/**
 * activeBySession's statement as the head of another (db/keyset.ts keysetPageUnder), its
 * columns named `head_<column>`: the head row it yields is a ViewerAccountRow.
 */
export function activeBySessionHead(userId: string, sessionId: string): HeadStatement {
  return {
    sql: activeBySessionSql(
      VIEWER_ACCOUNT_COLUMNS.split(', ')
        .map((column) => `${column} as head_${column.slice('u.'.length)}`)
        .join(', '),
    ),
    params: [sessionId, userId],
    key: 'head_id',
  };
}

export interface UserFilterValues {
  search?: string | null;
  role?: Role | null;
  isActive?: boolean | null;
}

/** What a users page computes beside its rows, for those rows only. */
export interface UserPageAggregates {
  /** Each user's task count. */
  taskCounts?: boolean;
  /** Each user's calls and tokens in `[from, to)`. */
  usage?: { from: Date; to: Date };
}

export interface UserAggregates {
  taskCount?: number;
  usage?: UsageTotals;
}

function userFilter(filter: UserFilterValues | null | undefined): SqlFilter {
  return new SqlFilter()
    .contains(['t.email', 't.name'], filter?.search)
    .given(filter?.role, 't.role = ?')
    .given(filter?.isActive, 't.is_active = ?');
}

/**
 * The unfiltered users page through `users_page` (migration 20261202010000): `first + 1` rows
 * after the cursor, with the aggregates asked for (the others read null). A malformed cursor
 * is refused here, as the statement built as text refuses it.
 */
export function usersPageCall(
  first: number,
  after: string | null | undefined,
  aggregates: UserPageAggregates,
): KeptPage {
  const cursor = decodeKeysetCursor(NEWEST_FIRST, after);
  const w = aggregates.usage ? usageWindow(aggregates.usage.from, aggregates.usage.to) : null;
  return {
    sql: `select * from users_page(?::int, ?::timestamptz, ?::uuid, ?::boolean, ?::boolean,
      ?::timestamptz, ?::timestamptz, ?::date, ?::date, ?::timestamptz, ?::timestamptz)`,
    params: [
      first + 1,
      cursor?.key ?? null,
      cursor?.id ?? null,
      !!aggregates.taskCounts,
      !!w,
      ...(w ? usageWindowParams(w) : Array(6).fill(null)),
    ],
  };
}

export class UserRepository extends EntityRepository<User> {
  /** Users by id as plain objects (not hydrated), in no particular order; missing ids skipped. */
  async byIds(ids: readonly string[]): Promise<User[]> {
    const em = this.getEntityManager();
    const rows: Record<string, unknown>[] = await query(
      em,
      `select * from users where id = any(?::uuid[])`,
      [uuidArray(ids)],
    );
    return rows.map((row) => toPlain(em, User, row));
  }

  /**
   * The active account of `userId` if `sessionId` is one of its sessions and not revoked, in one
   * statement: a deactivation or a revoked session applies at the next request. Through
   * `session_account` (migration 20261201130000), this statement with a plan PostgreSQL keeps
   * per connection, with the calls of concurrent requests (db/coalesce.ts); `asText` sends the
   * statement itself.
   */
  async activeBySession(
    userId: string,
    sessionId: string,
    asText = false,
  ): Promise<ViewerAccount | null> {
    const em = this.getEntityManager();
    const rows = (
      asText
        ? await query(em, activeBySessionSql(VIEWER_ACCOUNT_COLUMNS), [sessionId, userId])
        : await SESSION_ACCOUNTS.call(em, [sessionId, userId])
    ) as ViewerAccountRow[];
    return rows[0] ? toViewerAccount(rows[0]) : null;
  }

  /**
   * Newest first. `aggregates` are computed in the page's own statement, for its rows only
   * (the task counts kept by triggers, the usage sums of usage-sums.ts), and returned by id.
   * Unfiltered, the page is read through `users_page` (migration 20261202010000), the same
   * statement with a plan PostgreSQL keeps per connection; `asText` sends the statement itself.
   */
  async page(
    filter: UserFilterValues | null | undefined,
    first: number,
    after: string | null | undefined,
    aggregates: UserPageAggregates = {},
    asText = false,
  ): Promise<{ page: Page<User>; aggregates: Map<string, UserAggregates> }> {
    const filtered = userFilter(filter);
    const kept = asText || !filtered.isEmpty ? undefined : usersPageCall(first, after, aggregates);
    const { taskCounts, usage } = aggregates;
    // The statement as text, when no kept one serves.
    const columns: string[] = [];
    let join: { sql: string; params: readonly unknown[] } | undefined;
    if (!kept && taskCounts) {
      // Kept by triggers as tasks come and go (migration 20261201040000).
      columns.push(
        'coalesce((select c.count from task_counts c where c.owner_id = t.id), 0) as ahead_tasks',
      );
    }
    if (!kept && usage) {
      const sums = usageTotalsSql('t.id', usage.from, usage.to);
      columns.push('us.calls as ahead_calls', 'us.tokens as ahead_tokens');
      join = { sql: `left join lateral (${sums.sql}) us on true`, params: sums.params };
    }
    const byId = new Map<string, UserAggregates>();
    const page = await keysetPage(
      this.getEntityManager(),
      User,
      { table: 'users', filter: filtered, order: NEWEST_FIRST, first, after, columns, join },
      !taskCounts && !usage
        ? undefined
        : (row) =>
            byId.set(row.id, {
              taskCount: taskCounts ? toGraphQLInt(row.ahead_tasks as string) : undefined,
              usage: usage
                ? {
                    calls: toGraphQLInt(row.ahead_calls as string),
                    totalTokens: toGraphQLInt(row.ahead_tokens as string),
                  }
                : undefined,
            }),
      kept,
    );
    return { page, aggregates: byId };
  }

  /** Users under `filter`: the list's totalCount. */
  total(filter: UserFilterValues | null | undefined): Promise<number> {
    return countRows(this.getEntityManager(), 'users', userFilter(filter));
  }

  /** Locks the user's row until the transaction ends: writes that count per user queue here. */
  async lock(id: string): Promise<void> {
    await query(this.getEntityManager(), `select 1 from users where id = ? for update`, [id]);
  }

  /** The active admins' ids, their rows locked until the transaction ends (in id order). */
  async lockActiveAdmins(): Promise<string[]> {
    const rows: { id: string }[] = await query(
      this.getEntityManager(),
      `select id from users where role = 'ADMIN' and is_active order by id for update`,
    );
    return rows.map((row) => row.id);
  }

  async setPasswordHash(id: string, passwordHash: string, now: Date): Promise<void> {
    await query(
      this.getEntityManager(),
      `update users set password_hash = ?, updated_at = ? where id = ?`,
      [passwordHash, now, id],
    );
  }

  /** Every user, the active ones, and the active admins. */
  async counts(): Promise<{ users: number; active: number; admins: number }> {
    const rows: { users: string; active: string; admins: string }[] = await query(
      this.getEntityManager(),
      `select count(*) as users, count(*) filter (where is_active) as active,
              count(*) filter (where role = 'ADMIN' and is_active) as admins from users`,
    );
    return {
      users: toGraphQLInt(rows[0]?.users),
      active: toGraphQLInt(rows[0]?.active),
      admins: toGraphQLInt(rows[0]?.admins),
    };
  }
}
