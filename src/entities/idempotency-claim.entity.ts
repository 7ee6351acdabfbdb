import { Entity, ManyToOne, OptionalProps, PrimaryKey, Property, type Ref } from '@mikro-orm/core';
import { User } from './user.entity';

/**
 * A call with an idempotency key in flight. Taken just before the tool is called, so that a
 * concurrent duplicate waits for the first call's result instead of calling the tool again;
 * gone once that call is recorded (its usage record then holds the key) or has failed.
 */
@Entity({ tableName: 'idempotency_claims' })
export class IdempotencyClaim {
  [OptionalProps]?: 'createdAt';

  @ManyToOne(() => User, { ref: true, primary: true, deleteRule: 'cascade' })
  user!: Ref<User>;

  @PrimaryKey({ type: 'text' })
  key!: string;

  @Property({ type: 'text' })
  requestHash!: string;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
