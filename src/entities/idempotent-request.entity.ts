import {
  Entity,
  EntityRepositoryType,
  Index,
  OptionalProps,
  PrimaryKey,
  Property,
} from '@mikro-orm/core';
import { IdempotentRequestRepository } from './idempotent-request.repository';

/**
 * A mutation request sent with an `Idempotency-Key` header, and the response it got. Written in
 * the same transaction as the mutation's own writes, so a stored response always means the
 * write happened and a missing one means it did not. Replayed to the same caller sending the
 * same body for 24 hours (src/http/idempotency.ts).
 */
@Entity({ tableName: 'idempotent_requests', repository: () => IdempotentRequestRepository })
@Index({ name: 'idempotent_requests_created_idx', properties: ['createdAt'] })
export class IdempotentRequest {
  [OptionalProps]?: 'createdAt';
  [EntityRepositoryType]?: IdempotentRequestRepository;

  /** Who sent it: `u:<user id>`, `k:<API key id>` or `a:<client address>`. */
  @PrimaryKey({ type: 'text' })
  caller!: string;

  @PrimaryKey({ type: 'text' })
  key!: string;

  /** SHA-256 of the request body (query, variables, operation name). */
  @Property({ type: 'text' })
  requestHash!: string;

  @Property({ type: 'smallint' })
  status!: number;

  @Property({ type: 'text' })
  body!: string;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
