import {
  IsInt,
  IsOptional,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { JSONScalar } from '../../schema/scalars';
import { ArgsType, Field, InputType, Int, ObjectType } from 'type-graphql';
import { Tool, UsageRecord } from '../../entities';
import { PlanTier } from '../../entities/enums';
import { connectionType } from '../../lib/pagination';
import { SubscriptionView } from '../plans/subscription.types';

@ObjectType('ToolConnection', {
  simpleResolvers: true,
  description: 'A page of tools, by slug',
})
export class ToolConnection extends connectionType(Tool, 'Tool') {}

@InputType({ description: 'Narrows the tool list' })
export class ToolFilter {
  @Field(() => String, { nullable: true, description: 'Only tools of this category (exact match)' })
  @IsOptional()
  @Length(1, 100)
  category?: string | null;

  @Field(() => String, { nullable: true, description: 'Text in slug, name or description' })
  @IsOptional()
  @Length(1, 200, { message: 'search must be 1 to 200 characters' })
  search?: string | null;
}

@ArgsType()
export class ToolsArgs {
  @Field(() => Int, { nullable: true, description: 'Page size, 1 to 100 (default 20)' })
  first?: number | null;

  @Field(() => String, { nullable: true, description: 'endCursor of the previous page' })
  after?: string | null;

  @Field(() => ToolFilter, { nullable: true, description: 'Only tools that match; absent = all' })
  @IsOptional()
  @ValidateNested()
  filter?: ToolFilter | null;
}

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

@InputType({ description: 'A new tool (ADMIN)' })
export class CreateToolInput {
  @Field(() => String, { description: 'Lower-case letters, digits and dashes; 1 to 64' })
  @Matches(SLUG, { message: 'slug must be lower-case letters, digits and dashes (1 to 64)' })
  slug!: string;

  @Field(() => String, { description: 'Display name, 1 to 100 characters' })
  @Length(1, 100, { message: 'name must be 1 to 100 characters' })
  name!: string;

  @Field(() => String, { description: 'What the tool does, 1 to 2,000 characters' })
  @Length(1, 2000, { message: 'description must be 1 to 2000 characters' })
  description!: string;

  @Field(() => String, { description: 'A grouping such as text, 1 to 50 characters' })
  @Length(1, 50, { message: 'category must be 1 to 50 characters' })
  category!: string;

  @Field(() => PlanTier, { description: 'The lowest plan that may invoke it' })
  requiredTier!: PlanTier;

  @Field(() => JSONScalar, { description: 'A JSON Schema object for the input' })
  inputSchema!: Record<string, unknown>;

  @Field(() => Int, { description: '1 to 100,000' })
  @IsInt()
  @Min(1, { message: 'maxOutputTokens must be 1 to 100000' })
  @Max(100_000, { message: 'maxOutputTokens must be 1 to 100000' })
  maxOutputTokens!: number;

  @Field(() => String, { nullable: true, description: 'absent = a built-in tool of that slug' })
  @IsOptional()
  @MaxLength(2048)
  endpointUrl?: string | null;
}

@InputType({ description: 'Tool changes (ADMIN); absent fields stay' })
export class UpdateToolInput {
  @Field(() => String, { nullable: true, description: 'Display name, 1 to 100 characters' })
  @IsOptional()
  @Length(1, 100, { message: 'name must be 1 to 100 characters' })
  name?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'What the tool does, 1 to 2,000 characters',
  })
  @IsOptional()
  @Length(1, 2000, { message: 'description must be 1 to 2000 characters' })
  description?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'A grouping such as text, 1 to 50 characters',
  })
  @IsOptional()
  @Length(1, 50, { message: 'category must be 1 to 50 characters' })
  category?: string | null;

  @Field(() => PlanTier, { nullable: true, description: 'The lowest plan that may invoke it' })
  requiredTier?: PlanTier | null;

  @Field(() => JSONScalar, {
    nullable: true,
    description: 'A JSON Schema object for the input; it applies to the next call',
  })
  inputSchema?: Record<string, unknown> | null;

  @Field(() => Int, { nullable: true, description: '1 to 100,000' })
  @IsOptional()
  @IsInt()
  @Min(1, { message: 'maxOutputTokens must be 1 to 100000' })
  @Max(100_000, { message: 'maxOutputTokens must be 1 to 100000' })
  maxOutputTokens?: number | null;

  @Field(() => String, { nullable: true, description: 'null makes it built in again' })
  @IsOptional()
  @MaxLength(2048)
  endpointUrl?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description: 'false retires the tool: hidden from tools and tool, invokeTool answers NOT_FOUND',
  })
  isActive?: boolean | null;
}

@ObjectType({
  simpleResolvers: true,
  description: 'The result of invokeTool',
})
export class ToolInvocation {
  @Field(() => JSONScalar, { description: 'What the tool answered' })
  output!: unknown;

  @Field(() => UsageRecord, { description: 'What the call was charged' })
  usage!: UsageRecord;

  @Field(() => SubscriptionView, { description: 'The subscription after the charge' })
  subscription!: SubscriptionView;

  @Field(() => Boolean, { description: 'True when an idempotencyKey replayed an earlier call' })
  replayed!: boolean;
}
