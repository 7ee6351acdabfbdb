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
import { User } from './user.entity';
import { AuthSessionRepository } from './auth-session.repository';

/** One login: every refresh token rotated from it belongs to this session (its family). */
@Entity({ tableName: 'auth_sessions', repository: () => AuthSessionRepository })
@Index({ name: 'auth_sessions_user_idx', properties: ['user'] })
export class AuthSession {
  [EntityRepositoryType]?: AuthSessionRepository;

  [OptionalProps]?: 'createdAt' | 'revokedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => User, { ref: true, deleteRule: 'cascade' })
  user!: Ref<User>;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', nullable: true })
  revokedAt: Date | null = null;
}

/** A refresh token, stored only as its SHA-256; `usedAt` marks it rotated. */
@Entity({ tableName: 'refresh_tokens' })
@Index({ name: 'refresh_tokens_session_idx', properties: ['session'] })
export class RefreshToken {
  [OptionalProps]?: 'usedAt' | 'createdAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => AuthSession, { ref: true, deleteRule: 'cascade' })
  session!: Ref<AuthSession>;

  @Property({ type: 'text', unique: true })
  tokenHash!: string;

  @Property({ type: 'timestamptz' })
  expiresAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  usedAt: Date | null = null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
