import type { EntityManager } from '@mikro-orm/postgresql';
import { Task, UsageRecord, User } from '../../entities';
import { TaskStatus } from '../../entities/enums';
import { BadUserInputError } from '../../errors';
import type { Clock } from '../../lib/clock';
import type { Loaders } from '../../loaders';
import type { UsageByTool } from '../usage/usage.types';

const DAY_MS = 86_400_000;

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
  // The default is temporary, until createApp passes the app's clock.
  constructor(private readonly clock: Clock) {}

  /** The start of the last `n` days (24 hours each) up to now. */
  private since(n: number): Date {
    return new Date(this.clock.now().getTime() - n * DAY_MS);
  }

  async totals(em: EntityManager) {
    const [users, byStatus] = await Promise.all([
      em.getRepository(User).counts(),
      em.getRepository(Task).countsByStatus(),
    ]);
    const tasksByStatus = Object.values(TaskStatus).map((status) => ({
      status,
      count: byStatus.get(status) ?? 0,
    }));
    return {
      users: users.users,
      activeUsers: users.active,
      admins: users.admins,
      tasks: tasksByStatus.reduce((sum, s) => sum + s.count, 0),
      tasksByStatus,
    };
  }

  calls(em: EntityManager, last: number | null | undefined): Promise<number> {
    return em.getRepository(UsageRecord).callsSince(this.since(days(last)));
  }

  tokens(em: EntityManager, last: number | null | undefined): Promise<number> {
    return em.getRepository(UsageRecord).tokensSince(this.since(days(last)));
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
    return em.getRepository(UsageRecord).topTools(this.since(30), n);
  }
}
