import { randomUUID } from 'node:crypto';
import {
  BigIntType,
  Entity,
  ManyToOne,
  OneToOne,
  PrimaryKey,
  Property,
  type Ref,
  OptionalProps,
  Check,
  EntityRepositoryType,
} from '@mikro-orm/core';
import { PlanTier } from './enums';
import { Plan } from './plan.entity';
import { User } from './user.entity';
import { SubscriptionRepository } from './subscription.repository';

/**
 * A user's plan and metering for one calendar month (UTC). `periodStart` is the month the
 * counters belong to: a row from an earlier month counts as zero, and the next reservation
 * rolls it over, so no scheduled job is needed.
 */
@Entity({ tableName: 'subscriptions', repository: () => SubscriptionRepository })
@Check({
  name: 'subscriptions_tokens_check',
  expression: 'tokens_used >= 0 and tokens_reserved >= 0',
})
export class Subscription {
  [EntityRepositoryType]?: SubscriptionRepository;

  [OptionalProps]?: 'tier' | 'tokensUsed' | 'tokensReserved' | 'createdAt' | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @OneToOne(() => User, { ref: true, owner: true, unique: true, deleteRule: 'cascade' })
  user!: Ref<User>;

  /** The plan, held as its key (a foreign key to plans.tier). */
  @ManyToOne(() => Plan, {
    mapToPk: true,
    fieldName: 'tier',
    columnType: 'plan_tier',
    default: 'FREE',
    updateRule: 'cascade',
  })
  tier: PlanTier = PlanTier.FREE;

  @Property({ type: 'timestamptz' })
  periodStart!: Date;

  /** Tokens charged in `periodStart`'s month. */
  @Property({ type: new BigIntType('number') })
  tokensUsed: number = 0;

  /** Tokens held by calls in flight; settled or released when each call ends. */
  @Property({ type: new BigIntType('number') })
  tokensReserved: number = 0;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  /** Set by the services, from the app's clock, when they change the row (no onUpdate hook). */
  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}
