import type { EntityManager } from '@mikro-orm/postgresql';
import type { SignedInViewer } from '../../auth/viewer';
import { User } from '../../entities';
import { Role } from '../../entities/enums';
import { usageTotalsSql } from '../../entities/usage-sums';
import { ConflictError, NotFoundError } from '../../errors';
import { requireId } from '../../lib/ids';
import { countRows, escapeLike, newestFirstPage, pageSize, type Page } from '../../lib/pagination';
import { toGraphQLInt } from '../../lib/numbers';
import type { Clock } from '../../lib/clock';
import type { Loaders } from '../../loaders';
import type { UsageRange } from '../usage/usage.service';
import type { AuditService } from '../../audit/audit.service';
import { UserConnection, type UsersArgs } from './admin.types';
import { query } from '../../db/query';

/** What the rows of a users page will be asked for, read from the query's selection. */
export interface UsersReadAhead {
  /** `tasks { totalCount }` without a filter. */
  taskCounts?: boolean;
  /** `usage(from, to) { totalTokens | calls }` over this one range. */
  usage?: UsageRange;
}

export class AdminService {
  constructor(
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  /**
   * The users page, newest first. `ahead` names what the page's rows will be asked for (read
   * from the selection by the resolver): the task count and the usage totals are then computed
   * in the page's own statement, for the page's rows only, and handed to the loaders the row
   * fields read from, so an admin page of 50 users with both costs one statement, not three.
   */
  users(
    em: EntityManager,
    args: UsersArgs,
    ahead: UsersReadAhead = {},
    loaders?: Loaders,
  ): UserConnection {
    const first = pageSize(args.first);
    const where: string[] = [];
    const params: unknown[] = [];
    const filter = args.filter;
    if (filter?.search) {
      const pattern = `%${escapeLike(filter.search)}%`;
      where.push('(t.email ilike ? or t.name ilike ?)');
      params.push(pattern, pattern);
    }
    if (filter?.role) {
      where.push('t.role = ?');
      params.push(filter.role);
    }
    if (filter?.isActive !== undefined && filter.isActive !== null) {
      where.push('t.is_active = ?');
      params.push(filter.isActive);
    }
    return new UserConnection({
      page: () =>
        ahead.taskCounts || ahead.usage
          ? this.pageWithAggregates(em, where, params, first, args.after, ahead, loaders!)
          : newestFirstPage(em, User, 'users', where, params, first, args.after),
      count: () => countRows(em, 'users', where, params),
    });
  }

  private pageWithAggregates(
    em: EntityManager,
    where: string[],
    params: unknown[],
    first: number,
    after: string | null | undefined,
    ahead: UsersReadAhead,
    loaders: Loaders,
  ): Promise<Page<User>> {
    const columns: string[] = [];
    if (ahead.taskCounts) {
      // Kept by triggers as tasks come and go (migration 20261201040000).
      columns.push(
        'coalesce((select c.count from task_counts c where c.owner_id = t.id), 0) as ahead_tasks',
      );
    }
    const usage = ahead.usage;
    const sums = usage ? usageTotalsSql('t.id', usage.from, usage.to ?? this.clock.now()) : null;
    const join = sums
      ? { sql: `left join lateral (${sums.sql}) us on true`, params: sums.params }
      : undefined;
    if (usage) columns.push('us.calls as ahead_calls', 'us.tokens as ahead_tokens');
    return newestFirstPage(em, User, 'users', where, params, first, after, {
      columns,
      join,
      visit: (row) => {
        if (ahead.taskCounts) {
          loaders.taskCount.prime(
            { ownerId: row.id, filter: null },
            toGraphQLInt(row.ahead_tasks as string),
          );
        }
        if (usage) {
          loaders.usageTotals.prime(
            { userId: row.id, from: usage.from, to: usage.to },
            {
              calls: toGraphQLInt(row.ahead_calls as string),
              totalTokens: toGraphQLInt(row.ahead_tokens as string),
            },
          );
        }
      },
    });
  }

  async user(em: EntityManager, id: string): Promise<User | null> {
    return em.findOne(User, { id: requireId(id, 'id') });
  }

  setRole(em: EntityManager, actor: SignedInViewer, userId: string, role: Role): Promise<User> {
    return this.changeUser(em, actor, userId, 'user.setRole', (user) => {
      user.role = role;
    });
  }

  /** Deactivating also ends the user's sessions; their keys stop at the next request. */
  setActive(em: EntityManager, actor: SignedInViewer, userId: string, active: boolean) {
    return this.changeUser(em, actor, userId, 'user.setActive', async (user, tx) => {
      user.isActive = active;
      if (!active) {
        await query(
          tx,
          `update auth_sessions set revoked_at = now() where user_id = ? and revoked_at is null`,
          [user.id],
        );
      }
    });
  }

  /**
   * Applies a role or activation change with its audit entry. The active admins are locked
   * first, so two admins demoting each other at once cannot leave the platform with none.
   */
  private async changeUser(
    em: EntityManager,
    actor: SignedInViewer,
    userId: string,
    action: string,
    change: (user: User, tx: EntityManager) => void | Promise<void>,
  ): Promise<User> {
    requireId(userId, 'userId');
    return em.transactional(async (tx) => {
      const admins: { id: string }[] = await query(
        tx,
        `select id from users where role = 'ADMIN' and is_active order by id for update`,
      );
      const user = await tx.findOne(User, { id: userId });
      if (!user) throw new NotFoundError('User');
      const before = { role: user.role, isActive: user.isActive };
      await change(user, tx);
      const after = { role: user.role, isActive: user.isActive };
      const wasActiveAdmin = before.role === Role.ADMIN && before.isActive;
      const isActiveAdmin = after.role === Role.ADMIN && after.isActive;
      if (wasActiveAdmin && !isActiveAdmin && admins.filter((a) => a.id !== user.id).length === 0) {
        throw new ConflictError('This change would leave no active admin');
      }
      this.audit.record(tx, actor, action, 'User', user.id, { before, after });
      await tx.flush();
      return user;
    });
  }
}
