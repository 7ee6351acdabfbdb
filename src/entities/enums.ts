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

registerEnumType(Role, {
  name: 'Role',
  description: 'What an account may do',
  valuesConfig: {
    USER: { description: 'An ordinary account: its own tasks, API keys, plan and usage' },
    ADMIN: {
      description:
        'May also manage every account, plan, task and tool, but only signed in with an access token, never through an API key',
    },
  },
});
registerEnumType(TaskStatus, {
  name: 'TaskStatus',
  description: 'Where a task stands',
  valuesConfig: {
    TODO: { description: 'Not started; the default for a new task' },
    IN_PROGRESS: { description: 'Being worked on' },
    DONE: { description: 'Finished; moving a task here sets its completedAt' },
  },
});
registerEnumType(TaskPriority, {
  name: 'TaskPriority',
  description: 'How urgent a task is',
  valuesConfig: {
    LOW: { description: 'The lowest priority; sorts first with PRIORITY ASC' },
    MEDIUM: { description: 'The default for a new task' },
    HIGH: { description: 'Above MEDIUM' },
    URGENT: { description: 'The highest priority; sorts first with PRIORITY DESC' },
  },
});
registerEnumType(PlanTier, {
  name: 'PlanTier',
  description: 'A subscription plan, from lowest to highest: FREE, PRO, ENTERPRISE',
  valuesConfig: {
    FREE: { description: 'The lowest plan; every new account starts on it' },
    PRO: { description: 'Above FREE: opens the tools that require FREE or PRO' },
    ENTERPRISE: { description: 'The highest plan: opens every tool' },
  },
});
registerEnumType(ApiKeyScope, {
  name: 'ApiKeyScope',
  description: 'What an API key may do on its owner’s behalf',
  valuesConfig: {
    USAGE_READ: {
      description:
        'mySubscription, myUsage, usageRecords; also User.subscription, User.usage and invokeTool’s subscription',
    },
    TOOLS_INVOKE: { description: 'tools, tool, invokeTool' },
    TASKS_READ: {
      description: 'me, task, tasks; also User.tasks and a User’s email, name, role and isActive',
    },
    TASKS_WRITE: { description: 'createTask, updateTask, deleteTask' },
  },
});
registerEnumType(UsageStatus, {
  name: 'UsageStatus',
  description: 'How a tool call ended',
  valuesConfig: {
    SUCCEEDED: { description: 'The tool answered; its tokens were charged' },
    FAILED: {
      description: 'The call reached the tool but failed (see errorCode); nothing was charged',
    },
  },
});
registerEnumType(TaskOrderField, {
  name: 'TaskOrderField',
  description: 'What tasks sort by',
  valuesConfig: {
    CREATED_AT: { description: 'When the task was created' },
    UPDATED_AT: { description: 'When the task last changed' },
    DUE_DATE: { description: 'The due date; tasks without one sort after every date' },
    PRIORITY: { description: 'LOW < MEDIUM < HIGH < URGENT' },
  },
});
registerEnumType(OrderDirection, {
  name: 'OrderDirection',
  description: 'Sort direction',
  valuesConfig: {
    ASC: { description: 'Ascending: oldest, earliest or lowest first' },
    DESC: { description: 'Descending: newest, latest or highest first' },
  },
});
