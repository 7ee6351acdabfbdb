import type { EntityManager } from '@mikro-orm/postgresql';
import type { SignedInViewer } from '../auth/viewer';
import { AuditEntry, User } from '../entities';
import type { Clock } from '../lib/clock';
import { pageSize } from '../lib/pagination';
import { AuditEntryConnection } from './audit.types';

export class AuditService {
  // The default is temporary, until createApp passes the app's clock.
  constructor(private readonly clock: Clock) {}

  /**
   * Adds an audit entry to `tx`'s unit of work: the caller flushes it with the change it
   * describes, in the same transaction, so there is never one without the other.
   */
  record(
    tx: EntityManager,
    actor: SignedInViewer,
    action: string,
    targetType: string,
    targetId: string | null,
    details: { before: unknown; after: unknown },
  ): void {
    tx.create(AuditEntry, {
      actor: tx.getReference(User, actor.account.id),
      action,
      targetType,
      targetId,
      details,
      createdAt: this.clock.now(),
    });
  }

  page(em: EntityManager, args: { first?: number | null; after?: string | null }) {
    const first = pageSize(args.first);
    const repo = em.getRepository(AuditEntry);
    return new AuditEntryConnection({
      page: () => repo.page(first, args.after),
      count: () => repo.total(),
    });
  }
}
