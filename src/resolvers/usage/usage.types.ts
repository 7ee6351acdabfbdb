import { IsOptional, Length, ValidateNested } from 'class-validator';
import { ArgsType, Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { UsageRecord } from '../../entities';
import { UsageStatus } from '../../entities/enums';
import { connectionType } from '../../lib/pagination';

@ObjectType('UsageRecordConnection', {
  simpleResolvers: true,
  description: 'A page of usage records, newest first',
})
export class UsageRecordConnection extends connectionType(UsageRecord, 'UsageRecord') {}

@ObjectType({
  simpleResolvers: true,
  description: 'Calls and tokens of one tool',
})
export class UsageByTool {
  /** The tool's id; the `tool` field reads it (UsageByToolResolver). */
  toolId!: string;

  @Field(() => Int, { description: 'Calls to the tool, failed ones included' })
  calls!: number;

  @Field(() => Int, { description: 'Tokens charged for those calls' })
  totalTokens!: number;
}

@ObjectType({
  simpleResolvers: true,
  description: 'Calls and tokens of one UTC day; day is YYYY-MM-DD in UTC',
})
export class UsageByDay {
  @Field(() => String, { description: 'The UTC date, YYYY-MM-DD' })
  day!: string;

  @Field(() => Int, { description: 'Calls made that day, failed ones included' })
  calls!: number;

  @Field(() => Int, { description: 'Tokens charged that day' })
  totalTokens!: number;
}

/**
 * Usage of one user over one range. Its fields are resolved from the range (UsageSummaryResolver),
 * each aggregate only when it is asked for, batched across every user in the request.
 */
@ObjectType({
  simpleResolvers: true,
  description: 'Usage over a time range: calls that reached a tool and tokens charged',
})
export class UsageSummary {
  constructor(
    readonly userId: string,
    readonly from: Date,
    /** null: up to the time of the request. */
    readonly to: Date | null,
  ) {}
}

@InputType({ description: 'Narrows a usage record list' })
export class UsageFilter {
  @Field(() => String, { nullable: true, description: 'Only calls to the tool with this slug' })
  @IsOptional()
  @Length(1, 64)
  toolSlug?: string | null;

  @Field(() => UsageStatus, { nullable: true, description: 'Only calls that ended this way' })
  status?: UsageStatus | null;

  @Field(() => Date, { nullable: true, description: 'At or after' })
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Before' })
  to?: Date | null;
}

@ArgsType()
export class UsageRecordsArgs {
  @Field(() => Int, { nullable: true, description: 'Page size, 1 to 100 (default 20)' })
  first?: number | null;

  @Field(() => String, { nullable: true, description: 'endCursor of the previous page' })
  after?: string | null;

  @Field(() => UsageFilter, { nullable: true, description: 'Only calls that match; absent = all' })
  @IsOptional()
  @ValidateNested()
  filter?: UsageFilter | null;
}

@ArgsType()
export class AllUsageRecordsArgs extends UsageRecordsArgs {
  @Field(() => ID, { nullable: true, description: 'Only this user’s records' })
  userId?: string | null;
}

@ArgsType()
export class UsageRangeArgs {
  @Field(() => Date, { nullable: true, description: 'Default: start of the current period' })
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Default: now' })
  to?: Date | null;
}
