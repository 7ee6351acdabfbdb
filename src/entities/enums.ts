import { registerEnumType } from 'type-graphql';

export enum Role {
  USER = 'USER',
  ADMIN = 'ADMIN',
}
export enum TaskStatus {
  TODO = 'TODO',
  IN_PROGRESS = 'IN_PROGRESS',
  DONE = 'DONE',
}
/** Declared lowest first: the database enum sorts in this order. */
export enum TaskPriority {
  LOW = 'LOW',
  MEDIUM = 'MEDIUM',
  HIGH = 'HIGH',
  URGENT = 'URGENT',
}
/** Declared lowest first: a tool is open to plans at or above its tier. */
export enum PlanTier {
  FREE = 'FREE',
  PRO = 'PRO',
  ENTERPRISE = 'ENTERPRISE',
}
export enum ApiKeyScope {
  USAGE_READ = 'USAGE_READ',
  TOOLS_INVOKE = 'TOOLS_INVOKE',
  TASKS_READ = 'TASKS_READ',
  TASKS_WRITE = 'TASKS_WRITE',
}
export enum UsageStatus {
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
}
export enum TaskOrderField {
  CREATED_AT = 'CREATED_AT',
  UPDATED_AT = 'UPDATED_AT',
  DUE_DATE = 'DUE_DATE',
  PRIORITY = 'PRIORITY',
}
export enum OrderDirection {
  ASC = 'ASC',
  DESC = 'DESC',
}

export const TIER_RANK: Record<PlanTier, number> = { FREE: 0, PRO: 1, ENTERPRISE: 2 };

registerEnumType(Role, { name: 'Role', description: 'What an account may do' });
registerEnumType(TaskStatus, { name: 'TaskStatus', description: 'Where a task stands' });
registerEnumType(TaskPriority, { name: 'TaskPriority', description: 'How urgent a task is' });
registerEnumType(PlanTier, { name: 'PlanTier', description: 'A subscription plan, lowest first' });
registerEnumType(ApiKeyScope, {
  name: 'ApiKeyScope',
  description: 'What an API key may do on its owner’s behalf',
  valuesConfig: {
    USAGE_READ: { description: 'mySubscription, myUsage, usageRecords' },
    TOOLS_INVOKE: { description: 'tools, tool, invokeTool' },
    TASKS_READ: { description: 'me, task, tasks' },
    TASKS_WRITE: { description: 'createTask, updateTask, deleteTask' },
  },
});
registerEnumType(UsageStatus, { name: 'UsageStatus', description: 'How a tool call ended' });
registerEnumType(TaskOrderField, { name: 'TaskOrderField', description: 'What tasks sort by' });
registerEnumType(OrderDirection, { name: 'OrderDirection', description: 'Sort direction' });
