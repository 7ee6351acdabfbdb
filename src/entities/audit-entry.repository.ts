import { EntityRepository } from '@mikro-orm/postgresql';
import { countRows, keysetPage, NEWEST_FIRST } from '../db/keyset';
import { SqlFilter } from '../db/sql-filter';
import type { Page } from '../lib/pagination';
import { AuditEntry } from './audit-entry.entity';

export class AuditEntryRepository extends EntityRepository<AuditEntry> {
  /** Newest first. */
  page(first: number, after: string | null | undefined): Promise<Page<AuditEntry>> {
    return keysetPage(this.getEntityManager(), AuditEntry, {
      table: 'audit_entries',
      filter: new SqlFilter(),
      order: NEWEST_FIRST,
      first,
      after,
    });
  }

  /** Every entry: the log's totalCount. */
  total(): Promise<number> {
    return countRows(this.getEntityManager(), 'audit_entries', new SqlFilter());
  }
}
