import { Entity, EntityRepositoryType, Enum, Property, OptionalProps } from '@mikro-orm/core';
import { Field, Int, ObjectType } from 'type-graphql';
import { PlanTier } from './enums';
import { PlanRepository } from './plan.repository';

@ObjectType({
  simpleResolvers: true,
  description: 'A subscription plan. monthlyTokenQuota null = unlimited',
})
@Entity({ tableName: 'plans', repository: () => PlanRepository })
export class Plan {
  [EntityRepositoryType]?: PlanRepository;
  [OptionalProps]?: 'monthlyTokenQuota';

  @Field(() => PlanTier, { description: 'Which plan this is' })
  @Enum({ items: () => PlanTier, nativeEnumName: 'plan_tier', primary: true })
  tier!: PlanTier;

  @Field(() => String, { description: 'Display name of the plan' })
  @Property({ type: 'text' })
  name!: string;

  @Field(() => Int, { nullable: true, description: 'Tokens a month; null = unlimited' })
  @Property({ type: 'integer', nullable: true })
  monthlyTokenQuota: number | null = null;

  @Field(() => Int, { description: 'invokeTool calls allowed per minute' })
  @Property({ type: 'integer' })
  requestsPerMinute!: number;

  /** Lowest first; a tool is open to plans whose rank is at least its tier's. */
  @Property({ type: 'smallint' })
  rank!: number;
}
