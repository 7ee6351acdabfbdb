import { Args, Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import { signedIn } from '../../auth/require-viewer';
import type { Context } from '../../context';
import { ApiKey, Tool, UsageRecord, User } from '../../entities';
import { NotFoundError } from '../../errors';
import type { Services } from '../../services';
import {
  AllUsageRecordsArgs,
  UsageRangeArgs,
  UsageRecordConnection,
  UsageRecordsArgs,
  UsageSummary,
} from './usage.types';

@Resolver(() => UsageRecord)
export class UsageResolver {
  constructor(private readonly services: Services) {}

  @Query(() => UsageSummary, {
    description: 'The caller’s usage; default range: the current period up to now',
  })
  myUsage(@Args(() => UsageRangeArgs) args: UsageRangeArgs, @Ctx() ctx: Context): UsageSummary {
    const range = this.services.usage.range(args.from, args.to);
    return this.services.usage.summary(signedIn(ctx).account.id, range);
  }

  @Query(() => UsageRecordConnection, { description: 'The caller’s tool calls, newest first' })
  usageRecords(@Args(() => UsageRecordsArgs) args: UsageRecordsArgs, @Ctx() ctx: Context) {
    return this.services.usage.records(ctx.em, signedIn(ctx).account.id, args);
  }

  @Query(() => UsageRecordConnection, { description: 'ADMIN: every tool call, newest first' })
  allUsageRecords(@Args(() => AllUsageRecordsArgs) args: AllUsageRecordsArgs, @Ctx() ctx: Context) {
    return this.services.usage.records(ctx.em, args.userId ?? null, args);
  }

  @FieldResolver(() => Tool, { description: 'The tool that was called' })
  async tool(@Root() record: Pick<UsageRecord, 'tool'>, @Ctx() ctx: Context): Promise<Tool> {
    const tool = await ctx.loaders.tool.load(record.tool.id);
    if (!tool) throw new NotFoundError('Tool');
    return tool;
  }

  @FieldResolver(() => User, {
    description: 'Who made the call: the account, or the owner of the API key used',
  })
  async user(@Root() record: Pick<UsageRecord, 'user'>, @Ctx() ctx: Context): Promise<User> {
    const user = await ctx.loaders.user.load(record.user.id);
    if (!user) throw new NotFoundError('User');
    return user;
  }

  @FieldResolver(() => ApiKey, {
    nullable: true,
    description:
      'The API key the call was made with, if any. Read with an API key, only that key itself: the owner’s other keys answer null',
  })
  apiKey(
    @Root() record: Pick<UsageRecord, 'apiKey'>,
    @Ctx() ctx: Context,
  ): Promise<ApiKey | null> | null {
    if (!record.apiKey) return null;
    const v = ctx.viewer;
    if (v.kind === 'user' && v.via === 'apiKey' && record.apiKey.id !== v.apiKeyId) return null;
    return ctx.loaders.apiKey.load(record.apiKey.id);
  }
}
