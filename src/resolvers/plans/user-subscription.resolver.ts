import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { Context } from '../../context';
import { User } from '../../entities';
import type { Services } from '../../services';
import { SubscriptionView } from './subscription.types';

@Resolver(() => User)
export class UserSubscriptionResolver {
  constructor(private readonly services: Services) {}

  @FieldResolver(() => SubscriptionView, { description: 'Owner or admin' })
  subscription(@Root() user: Pick<User, 'id'>, @Ctx() ctx: Context): Promise<SubscriptionView> {
    return this.services.subscriptions.viewFor(ctx.loaders, user.id);
  }
}
