import { Args, FieldResolver, Resolver, Root } from 'type-graphql';
import { User } from '../../entities';
import type { Services } from '../../services';
import { UsageRangeArgs, UsageSummary } from './usage.types';

@Resolver(() => User)
export class UserUsageResolver {
  constructor(private readonly services: Services) {}

  @FieldResolver(() => UsageSummary, { description: 'Owner or admin; batched across users' })
  usage(
    @Root() user: Pick<User, 'id'>,
    @Args(() => UsageRangeArgs) args: UsageRangeArgs,
  ): UsageSummary {
    const range = this.services.usage.range(args.from, args.to);
    return this.services.usage.summary(user.id, range);
  }
}
