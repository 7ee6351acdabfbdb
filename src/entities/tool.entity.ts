import { randomUUID } from 'node:crypto';
import {
  Entity,
  Enum,
  Index,
  PrimaryKey,
  Property,
  OptionalProps,
  EntityRepositoryType,
} from '@mikro-orm/core';
import { JSONScalar } from '../schema/scalars';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { PlanTier } from './enums';
import { ToolRepository } from './tool.repository';

@ObjectType({
  simpleResolvers: true,
  description: 'An AI tool the gateway invokes: built in, or an upstream HTTP service',
})
@Entity({ tableName: 'tools', repository: () => ToolRepository })
@Index({ name: 'tools_active_slug_idx', properties: ['isActive', 'slug'] })
export class Tool {
  [EntityRepositoryType]?: ToolRepository;

  [OptionalProps]?: 'requiredTier' | 'endpointUrl' | 'isActive' | 'createdAt' | 'updatedAt';

  @Field(() => ID, { description: 'The tool’s id (a UUID); updateTool takes it' })
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Field(() => String, { description: 'Stable name used by invokeTool' })
  @Property({ type: 'text', unique: true })
  slug!: string;

  @Field(() => String, { description: 'Display name' })
  @Property({ type: 'text' })
  name!: string;

  @Field(() => String, { description: 'What the tool does, for people choosing one' })
  @Property({ type: 'text' })
  description!: string;

  @Field(() => String, {
    description: 'A grouping such as text; ToolFilter.category matches it exactly',
  })
  @Property({ type: 'text' })
  category!: string;

  @Field(() => PlanTier, { description: 'The lowest plan that may invoke it' })
  @Enum({ items: () => PlanTier, nativeEnumName: 'plan_tier' })
  requiredTier: PlanTier = PlanTier.FREE;

  @Field(() => JSONScalar, { description: 'JSON Schema the input must match' })
  @Property({ type: 'jsonb' })
  inputSchema!: Record<string, unknown>;

  @Field(() => Int, { description: 'The most output tokens one call may be charged' })
  @Property({ type: 'integer' })
  maxOutputTokens!: number;

  /** Upstream URL; null for a built-in tool. In the schema through ToolResolver (ADMIN only). */
  @Property({ type: 'text', nullable: true })
  endpointUrl: string | null = null;

  @Field(() => Boolean, {
    description:
      'False once an admin retires the tool: tools and tool leave it out, invokeTool answers NOT_FOUND',
  })
  @Property({ type: 'boolean' })
  isActive: boolean = true;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  /** Set by the services, from the app's clock, when they change the row (no onUpdate hook). */
  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}
