import type { GraphQLSchema } from 'graphql';
import { isObjectType } from 'graphql';
import { allow, and, deny, shield } from 'graphql-shield';
import type { IRules } from 'graphql-shield/typings/types';
import type { Context } from '../context';
import { ApiKeyScope } from '../entities/enums';
import { ForbiddenError, UnauthenticatedError } from '../errors';
import { canReadProfile } from './rules/can-read-profile.rule';
import { hasScope } from './rules/has-scope.rule';
import { invokeSelectionInScope } from './rules/invoke-selection.rule';
import { isAdmin } from './rules/is-admin.rule';
import { isJwtUser } from './rules/is-jwt-user.rule';
import { isOwnKeyOrJwt } from './rules/is-own-key-or-jwt.rule';
import { isSelfOrAdmin } from './rules/is-self-or-admin.rule';
import { isSignedIn } from './rules/is-signed-in.rule';

const tasksRead = and(isSignedIn, hasScope(ApiKeyScope.TASKS_READ));
const tasksWrite = and(isSignedIn, hasScope(ApiKeyScope.TASKS_WRITE));
const toolsInvoke = and(isSignedIn, hasScope(ApiKeyScope.TOOLS_INVOKE));
const usageRead = and(isSignedIn, hasScope(ApiKeyScope.USAGE_READ));
const jwtUser = and(isSignedIn, isJwtUser);
const admin = and(isSignedIn, isAdmin);

/**
 * The one permission map: may this caller use this field at all (identity, role, scope).
 * Which rows they see is the services' business. Anything not named here is denied.
 */
export const permissionRules: IRules = {
  Query: {
    plans: allow,
    me: tasksRead,
    task: tasksRead,
    tasks: tasksRead,
    tools: toolsInvoke,
    tool: toolsInvoke,
    mySubscription: usageRead,
    myUsage: usageRead,
    usageRecords: usageRead,
    apiKeys: jwtUser,
    users: admin,
    user: admin,
    allTasks: admin,
    allUsageRecords: admin,
    adminStats: admin,
    auditLog: admin,
  },
  Mutation: {
    register: allow,
    login: allow,
    refreshToken: allow,
    logout: jwtUser,
    logoutAll: jwtUser,
    updateProfile: jwtUser,
    changePassword: jwtUser,
    createTask: tasksWrite,
    updateTask: tasksWrite,
    deleteTask: tasksWrite,
    // Asking for what the key may not read is refused before the tool runs and is charged.
    invokeTool: and(toolsInvoke, invokeSelectionInScope),
    changePlan: jwtUser,
    createApiKey: jwtUser,
    revokeApiKey: jwtUser,
    setUserRole: admin,
    setUserActive: admin,
    setUserPlan: admin,
    adminDeleteTask: admin,
    createTool: admin,
    updateTool: admin,
  },
  User: {
    '*': allow,
    // A profile is `me`'s data (TASKS_READ) wherever it is reached from, e.g. UsageRecord.user.
    email: canReadProfile,
    name: canReadProfile,
    role: canReadProfile,
    isActive: canReadProfile,
    subscription: and(isSelfOrAdmin, hasScope(ApiKeyScope.USAGE_READ)),
    usage: and(isSelfOrAdmin, hasScope(ApiKeyScope.USAGE_READ)),
    tasks: and(isSelfOrAdmin, hasScope(ApiKeyScope.TASKS_READ)),
  },
  Tool: { '*': allow, endpointUrl: isAdmin },
  Task: { '*': allow },
  Plan: { '*': allow },
  PlanSubscription: { '*': allow },
  UsageRecord: {
    '*': allow,
    // The owner's other keys are not a key's business.
    apiKey: isOwnKeyOrJwt,
  },
  UsageSummary: { '*': allow },
  UsageByTool: { '*': allow },
  UsageByDay: { '*': allow },
  ApiKey: { '*': allow },
  ApiKeyCreated: { '*': allow },
  AuthPayload: { '*': allow },
  ToolInvocation: { '*': allow, subscription: hasScope(ApiKeyScope.USAGE_READ) },
  AuditEntry: { '*': allow },
  PlatformStats: { '*': allow },
  TaskStatusCount: { '*': allow },
  PageInfo: { '*': allow },
  TaskConnection: { '*': allow },
  TaskEdge: { '*': allow },
  ToolConnection: { '*': allow },
  ToolEdge: { '*': allow },
  UserConnection: { '*': allow },
  UserEdge: { '*': allow },
  UsageRecordConnection: { '*': allow },
  UsageRecordEdge: { '*': allow },
  AuditEntryConnection: { '*': allow },
  AuditEntryEdge: { '*': allow },
};

export const permissions = shield(permissionRules, {
  fallbackRule: deny,
  allowExternalErrors: true,
  fallbackError: (_err, _parent, _args, ctx) =>
    (ctx as unknown as Context).viewer.kind === 'user'
      ? new ForbiddenError()
      : new UnauthenticatedError(),
});

/**
 * graphql-shield wraps every field in an async function, allowed ones too; on a page of 100
 * rows that is thousands of promises for nothing. A field whose rule is `allow` gets its own
 * resolver back (or none, the default one), which is exactly what `allow` means.
 */
export function unwrapAllowedFields(shielded: GraphQLSchema, original: GraphQLSchema): void {
  for (const [typeName, rules] of Object.entries(permissionRules)) {
    if (typeof rules !== 'object' || rules === null) continue;
    const type = shielded.getType(typeName);
    const source = original.getType(typeName);
    if (!isObjectType(type) || !isObjectType(source)) continue;
    const fieldRules = rules as Record<string, unknown>;
    const sourceFields = source.getFields();
    for (const [fieldName, field] of Object.entries(type.getFields())) {
      const rule = fieldName in fieldRules ? fieldRules[fieldName] : fieldRules['*'];
      if (rule === allow) field.resolve = sourceFields[fieldName]?.resolve;
    }
  }
}
