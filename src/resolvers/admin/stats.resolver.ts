import { Arg, Ctx, Field, FieldResolver, Int, ObjectType, Query, Resolver } from 'type-graphql';
import type { Context } from '../../context';
import { TaskStatus } from '../../entities/enums';
import type { Services } from '../../services';
import { UsageByTool } from '../usage/usage.types';

@ObjectType({
  simpleResolvers: true,
  description: 'Tasks in one status',
})
export class TaskStatusCount {
  @Field(() => TaskStatus, { description: 'The status counted' })
  status!: TaskStatus;

  @Field(() => Int, { description: 'Tasks in that status, across every user' })
  count!: number;
}

@ObjectType({
  simpleResolvers: true,
  description: 'Platform totals (ADMIN)',
})
export class PlatformStats {
  @Field(() => Int, { description: 'Every account, deactivated ones included' })
  users!: number;

  @Field(() => Int, { description: 'Users whose account is active' })
  activeUsers!: number;

  @Field(() => Int, { description: 'Active admins' })
  admins!: number;

  @Field(() => Int, { description: 'Every task of every user' })
  tasks!: number;

  @Field(() => [TaskStatusCount], { description: 'Every status, zero included' })
  tasksByStatus!: TaskStatusCount[];
}

@Resolver(() => PlatformStats)
export class StatsResolver {
  constructor(private readonly services: Services) {}

  @Query(() => PlatformStats, { description: 'ADMIN: platform statistics' })
  adminStats(@Ctx() ctx: Context): Promise<PlatformStats> {
    return this.services.stats.totals(ctx.em);
  }

  @FieldResolver(() => Int, { description: 'Calls in the last N days' })
  calls(
    @Ctx() ctx: Context,
    @Arg('last', () => Int, { nullable: true, defaultValue: 30, description: '1 to 366' })
    last: number | null,
  ): Promise<number> {
    return this.services.stats.calls(ctx.em, last);
  }

  @FieldResolver(() => Int, { description: 'Tokens in the last N days' })
  tokens(
    @Ctx() ctx: Context,
    @Arg('last', () => Int, { nullable: true, defaultValue: 30, description: '1 to 366' })
    last: number | null,
  ): Promise<number> {
    return this.services.stats.tokens(ctx.em, last);
  }

  @FieldResolver(() => [UsageByTool], { description: 'Most tokens in the last 30 days first' })
  topTools(
    @Ctx() ctx: Context,
    @Arg('limit', () => Int, { nullable: true, defaultValue: 5, description: '1 to 50' })
    limit: number | null,
  ): Promise<UsageByTool[]> {
    return this.services.stats.topTools(ctx.em, ctx.loaders, limit);
  }
}
