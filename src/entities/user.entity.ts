import { randomUUID } from 'node:crypto';
import {
  Entity,
  Enum,
  Index,
  PrimaryKey,
  Property,
  OptionalProps,
  Check,
  EntityRepositoryType,
} from '@mikro-orm/core';
import { Field, ID, ObjectType } from 'type-graphql';
import { Role } from './enums';
import { UserRepository } from './user.repository';

@ObjectType({
  simpleResolvers: true,
  description: 'An account',
})
@Entity({ tableName: 'users', repository: () => UserRepository })
@Check({ name: 'users_email_lower_check', expression: 'email = lower(email)' })
// The admin's users list, newest first.
@Index({ name: 'users_created_idx', properties: ['createdAt', 'id'] })
export class User {
  [EntityRepositoryType]?: UserRepository;

  [OptionalProps]?: 'role' | 'isActive' | 'createdAt' | 'updatedAt';

  @Field(() => ID, { description: 'The account’s id (a UUID)' })
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Field(() => String, { description: 'Lower-cased; unique regardless of case' })
  @Property({ type: 'text', unique: true })
  email!: string;

  @Field(() => String, {
    description: 'Display name, 1 to 100 characters; an API key reads it only with TASKS_READ',
  })
  @Property({ type: 'text' })
  name!: string;

  @Property({ type: 'text', hidden: true })
  passwordHash!: string;

  @Field(() => Role, {
    description: 'What the account may do; an API key reads it only with TASKS_READ',
  })
  @Enum({ items: () => Role, nativeEnumName: 'user_role' })
  role: Role = Role.USER;

  @Field(() => Boolean, { description: 'A deactivated account cannot sign in or use its keys' })
  @Property({ type: 'boolean' })
  isActive: boolean = true;

  @Field(() => Date, { description: 'When the account was registered (UTC)' })
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  /** Set by the services, from the app's clock, when they change the row (no onUpdate hook). */
  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}
