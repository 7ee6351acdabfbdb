import { ApiKey } from './api-key.entity';
import { AuditEntry } from './audit-entry.entity';
import { AuthSession, RefreshToken } from './auth-session.entity';
import { IdempotencyClaim } from './idempotency-claim.entity';
import { IdempotentRequest } from './idempotent-request.entity';
import { Plan } from './plan.entity';
import { Subscription } from './subscription.entity';
import { Task } from './task.entity';
import { Tool } from './tool.entity';
import { UsageRecord } from './usage-record.entity';
import { User } from './user.entity';

export const entities = [
  User,
  AuthSession,
  RefreshToken,
  Task,
  Plan,
  Subscription,
  Tool,
  ApiKey,
  UsageRecord,
  AuditEntry,
  IdempotencyClaim,
  IdempotentRequest,
];

export {
  ApiKey,
  IdempotencyClaim,
  IdempotentRequest,
  AuditEntry,
  AuthSession,
  Plan,
  RefreshToken,
  Subscription,
  Task,
  Tool,
  UsageRecord,
  User,
};
