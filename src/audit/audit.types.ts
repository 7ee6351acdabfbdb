import { ObjectType } from 'type-graphql';
import { AuditEntry } from '../entities';
import { connectionType } from '../lib/pagination';

@ObjectType('AuditEntryConnection', {
  simpleResolvers: true,
  description: 'A page of audit entries, newest first',
})
export class AuditEntryConnection extends connectionType(AuditEntry, 'AuditEntry') {}
