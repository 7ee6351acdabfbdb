import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { signedIn } from '../../auth/require-viewer';
import type { Context } from '../../context';
import { Plan } from '../../entities';
import { PlanTier } from '../../entities/enums';
import type { Services } from '../../services';
import { SubscriptionView } from './subscription.types';

@Resolver(() => Plan)
export class PlanResolver {
  constructor(private readonly services: Services) {}

  @Query(() => [Plan], { description: 'Public: every plan, lowest first' })
  plans(@Ctx() ctx: Context): Promise<Plan[]> {
    return this.services.subscriptions.plans(ctx.em);
  }

  @FieldResolver(() => ID, {
    description: "The tier's name, e.g. FREE: lets client caches normalize plans",
  })
  id(@Root() plan: Pick<Plan, 'tier'>): string {
    return plan.tier;
  }

  @Query(() => SubscriptionView, { description: 'The caller’s plan and this month’s usage' })
  mySubscription(@Ctx() ctx: Context): Promise<SubscriptionView> {
    return this.services.subscriptions.viewFor(ctx.loaders, signedIn(ctx).account.id);
  }

  @Mutation(() => SubscriptionView, {
    description: 'Moves the caller to a plan; usage this period is kept',
  })
  changePlan(
    @Arg('tier', () => PlanTier, { description: 'The plan to move to' }) tier: PlanTier,
    @Ctx() ctx: Context,
  ): Promise<SubscriptionView> {
    return this.services.subscriptions.changePlan(ctx.em, signedIn(ctx), tier);
  }

  @Mutation(() => SubscriptionView, { description: 'ADMIN: puts a user on a plan; audited' })
  setUserPlan(
    @Arg('userId', () => ID, { description: 'The account’s id; NOT_FOUND if there is none' })
    userId: string,
    @Arg('tier', () => PlanTier, { description: 'The plan to put the user on' }) tier: PlanTier,
    @Ctx() ctx: Context,
  ): Promise<SubscriptionView> {
    return this.services.subscriptions.setUserPlan(ctx.em, signedIn(ctx), userId, tier);
  }
}
