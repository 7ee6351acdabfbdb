import type { EntityManager } from '@mikro-orm/postgresql';
import type { SignedInViewer } from '../../auth/viewer';
import { AuthSession, User } from '../../entities';
import { Role } from '../../entities/enums';
import { ConflictError, NotFoundError } from '../../errors';
import { requireId } from '../../lib/ids';
import { pageSize } from '../../lib/pagination';
import type { Clock } from '../../lib/clock';
import { usageKeyText, type Loaders } from '../../loaders';
import type { UsageRange } from '../usage/usage.service';
import type { AuditService } from '../../audit/audit.service';
import { UserConnection, type UsersArgs } from './admin.types';

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
   * in the page's own statement, for the page's rows only, and kept where the row fields read
   * them (`loaders.known`), so an admin page of 50 users with both costs one statement, not
   * three, and its fields answer without waiting.
   */
  users(
    em: EntityManager,
    args: UsersArgs,
    ahead: UsersReadAhead = {},
    loaders?: Loaders,
  ): UserConnection {
    const first = pageSize(args.first);
    const repo = em.getRepository(User);
    const { usage } = ahead;
    return new UserConnection({
      page: async () => {
        const { page, aggregates } = await repo.page(args.filter, first, args.after, {
          taskCounts: ahead.taskCounts,
          usage: usage && { from: usage.from, to: usage.to ?? this.clock.now() },
        });
        const known = loaders!.known;
        for (const [id, row] of aggregates) {
          if (row.taskCount !== undefined) known.taskCounts.set(id, row.taskCount);
          if (usage && row.usage) {
            known.usageTotals.set(
              usageKeyText({ userId: id, from: usage.from, to: usage.to }),
              row.usage,
            );
          }
        }
        return page;
      },
      count: () => repo.total(args.filter),
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
        await tx.getRepository(AuthSession).revokeAll(user.id, this.clock.now());
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
      const admins = await tx.getRepository(User).lockActiveAdmins();
      const user = await tx.findOne(User, { id: userId });
      if (!user) throw new NotFoundError('User');
      const before = { role: user.role, isActive: user.isActive };
      await change(user, tx);
      const after = { role: user.role, isActive: user.isActive };
      if (after.role !== before.role || after.isActive !== before.isActive) {
        user.updatedAt = this.clock.now();
      }
      const wasActiveAdmin = before.role === Role.ADMIN && before.isActive;
      const isActiveAdmin = after.role === Role.ADMIN && after.isActive;
      if (wasActiveAdmin && !isActiveAdmin && admins.every((id) => id === user.id)) {
        throw new ConflictError('This change would leave no active admin');
      }
      this.audit.record(tx, actor, action, 'User', user.id, { before, after });
      await tx.flush();
      return user;
    });
  }
}
