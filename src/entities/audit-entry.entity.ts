import { randomUUID } from 'node:crypto';
import {
  Entity,
  Index,
  ManyToOne,
  PrimaryKey,
  Property,
  type Ref,
  OptionalProps,
  EntityRepositoryType,
} from '@mikro-orm/core';
import { JSONScalar } from '../schema/scalars';
import { Field, ID, ObjectType } from 'type-graphql';
import { User } from './user.entity';
import { AuditEntryRepository } from './audit-entry.repository';

@ObjectType({
  simpleResolvers: true,
  description: 'An admin action: who did what to which target, before and after',
})
@Entity({ tableName: 'audit_entries', repository: () => AuditEntryRepository })
@Index({ name: 'audit_entries_created_idx', properties: ['createdAt', 'id'] })
@Index({ name: 'audit_entries_target_idx', properties: ['targetType', 'targetId'] })
export class AuditEntry {
  [EntityRepositoryType]?: AuditEntryRepository;

  [OptionalProps]?: 'actor' | 'targetId' | 'details' | 'createdAt';

  @Field(() => ID, { description: 'The entry’s id (a UUID)' })
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => User, { ref: true, nullable: true, deleteRule: 'set null' })
  actor: Ref<User> | null = null;

  @Field(() => String, { description: 'e.g. user.setRole, tool.create' })
  @Property({ type: 'text' })
  action!: string;

  @Field(() => String, { description: 'What kind of thing was changed: User, Task or Tool' })
  @Property({ type: 'text' })
  targetType!: string;

  @Field(() => String, { nullable: true, description: 'The id of the changed thing' })
  @Property({ type: 'text', nullable: true })
  targetId: string | null = null;

  @Field(() => JSONScalar, { nullable: true, description: '{ before, after }' })
  @Property({ type: 'jsonb', nullable: true })
  details: unknown = null;

  @Field(() => Date, { description: 'When the action was taken (UTC)' })
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
