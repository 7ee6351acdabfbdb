import { randomUUID } from 'node:crypto';
import {
  BigIntType,
  Entity,
  Enum,
  OneToOne,
  PrimaryKey,
  Property,
  type Ref,
  OptionalProps,
} from '@mikro-orm/core';
import { PlanTier } from './enums';
import { User } from './user.entity';

/**
 * A user's plan and metering for one calendar month (UTC). `periodStart` is the month the
 * counters belong to: a row from an earlier month counts as zero, and the next reservation
 * rolls it over, so no scheduled job is needed.
 */
@Entity({ tableName: 'subscriptions' })
export class Subscription {
  [OptionalProps]?: 'tier' | 'tokensUsed' | 'tokensReserved' | 'createdAt' | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @OneToOne(() => User, { ref: true, owner: true, unique: true, deleteRule: 'cascade' })
  user!: Ref<User>;

  @Enum({ items: () => PlanTier, nativeEnumName: 'plan_tier' })
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

  @Property({ type: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
