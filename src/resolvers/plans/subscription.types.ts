import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Plan } from '../../entities';

@ObjectType('PlanSubscription', {
  simpleResolvers: true,
  description: "A user's plan and this month's metering. tokensRemaining null = unlimited",
})
export class SubscriptionView {
  @Field(() => ID, {
    description:
      'The subscription row: stable for a user across periods, so a client cache updates it in place',
  })
  id!: string;

  @Field(() => Plan, { description: 'The plan the user is on now' })
  plan!: Plan;

  @Field(() => Date, { description: 'Start of the current calendar month (UTC)' })
  currentPeriodStart!: Date;

  @Field(() => Date, { description: 'Start of the next calendar month (UTC)' })
  currentPeriodEnd!: Date;

  @Field(() => Int, { description: 'Tokens charged this period' })
  tokensUsed!: number;

  @Field(() => Int, { nullable: true, description: 'null = unlimited' })
  tokensRemaining!: number | null;
}
