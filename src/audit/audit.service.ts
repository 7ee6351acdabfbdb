import type { EntityManager } from '@mikro-orm/postgresql';
import type { SignedInViewer } from '../auth/viewer';
import { AuditEntry, User } from '../entities';
import { countRows, newestFirstPage, pageSize } from '../lib/pagination';
import { AuditEntryConnection } from './audit.types';

export class AuditService {
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
      createdAt: new Date(),
    });
  }

  page(em: EntityManager, args: { first?: number | null; after?: string | null }) {
    const first = pageSize(args.first);
    return new AuditEntryConnection({
      page: () => newestFirstPage(em, AuditEntry, 'audit_entries', [], [], first, args.after),
      count: () => countRows(em, 'audit_entries', [], []),
    });
  }
}
