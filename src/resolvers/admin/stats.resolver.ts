import type { EntityManager } from '@mikro-orm/postgresql';
import {
  Arg,
  Ctx,
  Field,
  FieldResolver,
  Int,
  ObjectType,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import type { Context } from '../../context';
import { TaskStatus } from '../../entities/enums';
import { BadUserInputError } from '../../errors';
import { UsageByTool } from '../usage/usage.types';

@ObjectType({ description: 'Tasks in one status' })
export class TaskStatusCount {
  @Field(() => TaskStatus)
  status!: TaskStatus;

  @Field(() => Int)
  count!: number;
}

@ObjectType({ description: 'Platform totals (ADMIN)' })
export class PlatformStats {
  @Field(() => Int)
  users!: number;

  @Field(() => Int)
  activeUsers!: number;

  @Field(() => Int)
  admins!: number;

  @Field(() => Int)
  tasks!: number;

  @Field(() => [TaskStatusCount])
  tasksByStatus!: TaskStatusCount[];

  em!: EntityManager;
}

function days(last: number): number {
  if (!Number.isInteger(last) || last < 1 || last > 366) {
    throw new BadUserInputError('last must be 1 to 366 days', ['last']);
  }
  return last;
}

/** adminStats: two statements for the totals; each usage field one more, only when asked. */
@Resolver(() => PlatformStats)
export class StatsResolver {
  @Query(() => PlatformStats, { description: 'ADMIN: platform statistics' })
  async adminStats(@Ctx() ctx: Context): Promise<PlatformStats> {
    const [users, tasks] = await Promise.all([
      ctx.em.execute<{ users: string; active: string; admins: string }[]>(
        `select count(*) as users, count(*) filter (where is_active) as active,
                count(*) filter (where role = 'ADMIN' and is_active) as admins from users`,
      ),
      ctx.em.execute<{ status: TaskStatus; n: string }[]>(
        `select status, count(*) as n from tasks group by status`,
      ),
    ]);
    const byStatus = new Map(tasks.map((row) => [row.status, Number(row.n)]));
    const tasksByStatus = Object.values(TaskStatus).map((status) => ({
      status,
      count: byStatus.get(status) ?? 0,
    }));
    return {
      users: Number(users[0]?.users ?? 0),
      activeUsers: Number(users[0]?.active ?? 0),
      admins: Number(users[0]?.admins ?? 0),
      tasks: tasksByStatus.reduce((sum, s) => sum + s.count, 0),
      tasksByStatus,
      em: ctx.em,
    };
  }

  @FieldResolver(() => Int, { description: 'Calls in the last N days' })
  async calls(
    @Root() stats: PlatformStats,
    @Arg('last', () => Int, { nullable: true, defaultValue: 30, description: '1 to 366' })
    last: number | null,
  ): Promise<number> {
    const rows = await stats.em.execute<{ n: string }[]>(
      `select count(*) as n from usage_records where created_at >= now() - make_interval(days => ?)`,
      [days(last ?? 30)],
    );
    return Number(rows[0]?.n ?? 0);
  }

  @FieldResolver(() => Int, { description: 'Tokens in the last N days' })
  async tokens(
    @Root() stats: PlatformStats,
    @Arg('last', () => Int, { nullable: true, defaultValue: 30, description: '1 to 366' })
    last: number | null,
  ): Promise<number> {
    const rows = await stats.em.execute<{ n: string }[]>(
      `select coalesce(sum(total_tokens), 0) as n from usage_records
        where created_at >= now() - make_interval(days => ?)`,
      [days(last ?? 30)],
    );
    return Number(rows[0]?.n ?? 0);
  }

  @FieldResolver(() => [UsageByTool], { description: 'Most tokens in the last 30 days first' })
  async topTools(
    @Root() stats: PlatformStats,
    @Ctx() ctx: Context,
    @Arg('limit', () => Int, { nullable: true, defaultValue: 5, description: '1 to 50' })
    limit: number | null,
  ): Promise<UsageByTool[]> {
    limit ??= 5;
    if (!Number.isInteger(limit) || limit < 1 || limit > 50) {
      throw new BadUserInputError('limit must be 1 to 50', ['limit']);
    }
    const rows = await stats.em.execute<{ tool_id: string; calls: string; tokens: string }[]>(
      `select tool_id, count(*) as calls, coalesce(sum(total_tokens), 0) as tokens
         from usage_records where created_at >= now() - interval '30 days'
        group by tool_id order by tokens desc, calls desc limit ?`,
      [limit],
    );
    const tools = await ctx.loaders.tool.loadMany(rows.map((r) => r.tool_id));
    return rows.flatMap((row, i) => {
      const tool = tools[i];
      return tool && !(tool instanceof Error)
        ? [{ tool, calls: Number(row.calls), totalTokens: Number(row.tokens) }]
        : [];
    });
  }
}
