import {
  Entity,
  ManyToOne,
  OptionalProps,
  PrimaryKey,
  Property,
  type Ref,
  EntityRepositoryType,
} from '@mikro-orm/core';
import { User } from './user.entity';
import { IdempotencyClaimRepository } from './idempotency-claim.repository';

/**
 * A call with an idempotency key in flight. Taken just before the tool is called, so that a
 * concurrent duplicate waits for the first call's result instead of calling the tool again;
 * gone once that call succeeded (its usage record then holds the key, written in the same
 * transaction). A call that failed leaves its error code here, so that duplicates waiting on it
 * answer the same error, and a retry with the key takes the claim over.
 */
@Entity({ tableName: 'idempotency_claims', repository: () => IdempotencyClaimRepository })
export class IdempotencyClaim {
  [EntityRepositoryType]?: IdempotencyClaimRepository;

  [OptionalProps]?: 'createdAt' | 'errorCode';

  @ManyToOne(() => User, { ref: true, primary: true, deleteRule: 'cascade' })
  user!: Ref<User>;

  @PrimaryKey({ type: 'text' })
  key!: string;

  @Property({ type: 'text' })
  requestHash!: string;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  /** The contract code the call failed with; null while it runs. */
  @Property({ type: 'text', nullable: true })
  errorCode: string | null = null;
}
