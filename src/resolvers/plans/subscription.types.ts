import { Field, Int, ObjectType } from 'type-graphql';
import { Plan } from '../../entities';

@ObjectType('Subscription', {
  description: "A user's plan and this month's metering. tokensRemaining null = unlimited",
})
export class SubscriptionView {
  @Field(() => Plan)
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
