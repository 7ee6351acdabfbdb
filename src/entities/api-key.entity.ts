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
  EntityRepositoryType,
} from '@mikro-orm/core';
import { Field, ID, ObjectType } from 'type-graphql';
import { ApiKeyScope } from './enums';
import { User } from './user.entity';
import { ApiKeyRepository } from './api-key.repository';

@ObjectType({
  simpleResolvers: true,
  description: 'A key for partner integrations; acts as its owner within its scopes',
})
@Entity({ tableName: 'api_keys', repository: () => ApiKeyRepository })
@Index({ name: 'api_keys_user_idx', properties: ['user', 'createdAt'] })
export class ApiKey {
  [EntityRepositoryType]?: ApiKeyRepository;

  [OptionalProps]?: 'scopes' | 'createdAt' | 'lastUsedAt' | 'expiresAt' | 'revokedAt';

  @Field(() => ID, { description: 'The key’s id (a UUID); revokeApiKey takes it' })
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => User, { ref: true, deleteRule: 'cascade' })
  user!: Ref<User>;

  @Field(() => String, { description: 'The owner’s label for the key, 1 to 100 characters' })
  @Property({ type: 'text' })
  name!: string;

  @Field(() => String, { description: 'The public part of the key: sk_<prefix>_…' })
  @Property({ type: 'text', unique: true })
  prefix!: string;

  @Property({ type: 'text', hidden: true })
  secretHash!: string;

  @Field(() => [ApiKeyScope], {
    description: 'What the key may do; anything else answers FORBIDDEN',
  })
  @Enum({ items: () => ApiKeyScope, array: true, type: 'text[]' })
  scopes: ApiKeyScope[] = [];

  @Field(() => Date, { description: 'When the key was created (UTC)' })
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Field(() => Date, { nullable: true, description: 'Kept to the minute' })
  @Property({ type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null = null;

  @Field(() => Date, {
    nullable: true,
    description: 'When the key stops working (UTC); null = never',
  })
  @Property({ type: 'timestamptz', nullable: true })
  expiresAt: Date | null = null;

  @Field(() => Date, {
    nullable: true,
    description: 'When the key was revoked (UTC); null while it is not',
  })
  @Property({ type: 'timestamptz', nullable: true })
  revokedAt: Date | null = null;
}
