import { randomUUID } from 'node:crypto';
import {
  Entity,
  Enum,
  Index,
  ManyToOne,
  PrimaryKey,
  Property,
  type Ref,
  OptionalProps,
  Check,
  EntityRepositoryType,
} from '@mikro-orm/core';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { UsageStatus } from './enums';
import { ApiKey } from './api-key.entity';
import { Tool } from './tool.entity';
import { User } from './user.entity';
import { UsageRecordRepository } from './usage-record.repository';

@ObjectType({
  simpleResolvers: true,
  description: 'One call that reached a tool',
})
@Entity({ tableName: 'usage_records', repository: () => UsageRecordRepository })
@Index({
  name: 'usage_records_user_created_idx',
  expression:
    'create index "usage_records_user_created_idx" on "usage_records" ("user_id", "created_at", "id") include ("tool_id", "total_tokens", "status")',
})
@Index({
  name: 'usage_records_idempotency_idx',
  expression:
    'create unique index "usage_records_idempotency_idx" on "usage_records" ("user_id", "idempotency_key") where "idempotency_key" is not null',
})
@Check({
  name: 'usage_records_tokens_check',
  expression: 'input_tokens >= 0 and output_tokens >= 0 and total_tokens >= 0 and latency_ms >= 0',
})
@Index({ name: 'usage_records_created_idx', properties: ['createdAt', 'id'] })
@Index({ name: 'usage_records_tool_created_idx', properties: ['tool', 'createdAt'] })
export class UsageRecord {
  [EntityRepositoryType]?: UsageRecordRepository;

  [OptionalProps]?:
    | 'apiKey'
    | 'inputTokens'
    | 'outputTokens'
    | 'totalTokens'
    | 'errorCode'
    | 'latencyMs'
    | 'createdAt'
    | 'idempotencyKey'
    | 'requestHash'
    | 'output';

  @Field(() => ID, { description: 'The record’s id (a UUID)' })
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => User, { ref: true, deleteRule: 'cascade' })
  user!: Ref<User>;

  @ManyToOne(() => Tool, { ref: true })
  tool!: Ref<Tool>;

  @ManyToOne(() => ApiKey, { ref: true, nullable: true, deleteRule: 'set null' })
  apiKey: Ref<ApiKey> | null = null;

  @Field(() => Int, {
    description:
      'Input tokens charged: as the tool reported them, else JSON characters / 4 rounded up; 0 for a failed call',
  })
  @Property({ type: 'integer' })
  inputTokens: number = 0;

  @Field(() => Int, {
    description:
      'Output tokens charged: as the tool reported them, else JSON characters / 4 rounded up; 0 for a failed call',
  })
  @Property({ type: 'integer' })
  outputTokens: number = 0;

  @Field(() => Int, { description: 'Tokens charged: zero for a failed call' })
  @Property({ type: 'integer' })
  totalTokens: number = 0;

  @Field(() => UsageStatus, { description: 'How the call ended' })
  @Enum({ items: () => UsageStatus, nativeEnumName: 'usage_status' })
  status!: UsageStatus;

  @Field(() => String, { nullable: true, description: 'Why a FAILED call failed' })
  @Property({ type: 'text', nullable: true })
  errorCode: string | null = null;

  @Field(() => Int, { description: 'How long the tool took, in milliseconds' })
  @Property({ type: 'integer' })
  latencyMs: number = 0;

  @Field(() => Date, {
    description: 'When the call was made (UTC); it counts in that month’s quota',
  })
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'text', nullable: true })
  idempotencyKey: string | null = null;

  /** SHA-256 of the slug and canonical input, to tell a replay from a reuse with other input. */
  @Property({ type: 'text', nullable: true })
  requestHash: string | null = null;

  /** Kept only for calls with an idempotency key, so that a replay returns the same output. */
  @Property({ type: 'jsonb', nullable: true })
  output: unknown = null;
}
