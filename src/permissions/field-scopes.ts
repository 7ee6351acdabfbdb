import { ApiKeyScope } from '../entities/enums';

/**
 * Fields an API key needs a scope for wherever they are reached, not only as root fields: a
 * User's profile is `me`'s data (TASKS_READ), its plan and usage are USAGE_READ, and so is the
 * subscription an invokeTool result carries. The permission map builds its rules for these
 * fields from this table, and invokeTool's check of its own selection reads the same table
 * (./rules/invoke-selection.rule.ts), so the two cannot disagree.
 */
export const FIELD_SCOPES: Readonly<Record<string, Readonly<Record<string, ApiKeyScope>>>> = {
  User: {
    email: ApiKeyScope.TASKS_READ,
    name: ApiKeyScope.TASKS_READ,
    role: ApiKeyScope.TASKS_READ,
    isActive: ApiKeyScope.TASKS_READ,
    tasks: ApiKeyScope.TASKS_READ,
    subscription: ApiKeyScope.USAGE_READ,
    usage: ApiKeyScope.USAGE_READ,
  },
  ToolInvocation: {
    subscription: ApiKeyScope.USAGE_READ,
  },
};

/** The scope `type.field` needs with an API key, or undefined when it needs none of its own. */
export function scopeOf(type: string, field: string): ApiKeyScope | undefined {
  return FIELD_SCOPES[type]?.[field];
}
