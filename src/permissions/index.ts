import type { GraphQLSchema } from 'graphql';
import { applyRules, rootFieldGate } from './apply-rules';
import { allow, and, deny, shield } from 'graphql-shield';
import type { IRules } from 'graphql-shield/typings/types';
import type { Context } from '../context';
import { ApiKeyScope } from '../entities/enums';
import { ForbiddenError, UnauthenticatedError } from '../errors';
import { FIELD_SCOPES } from './field-scopes';
import { hasScope } from './rules/has-scope.rule';
import { invokeSelectionInScope } from './rules/invoke-selection.rule';
import { isAdmin } from './rules/is-admin.rule';
import { isJwtUser } from './rules/is-jwt-user.rule';
import { isSelfOrAdmin } from './rules/is-self-or-admin.rule';
import { isSignedIn } from './rules/is-signed-in.rule';

const tasksRead = and(isSignedIn, hasScope(ApiKeyScope.TASKS_READ));
const tasksWrite = and(isSignedIn, hasScope(ApiKeyScope.TASKS_WRITE));
const toolsInvoke = and(isSignedIn, hasScope(ApiKeyScope.TOOLS_INVOKE));
const usageRead = and(isSignedIn, hasScope(ApiKeyScope.USAGE_READ));
const jwtUser = and(isSignedIn, isJwtUser);
/** A User's profile fields: anonymous callers reach them only through their own AuthPayload. */
const profile = { anonymousPasses: true };
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
    // The scopes of these fields come from FIELD_SCOPES, which invokeTool's check reads too.
    email: hasScope(FIELD_SCOPES.User!.email!, profile),
    name: hasScope(FIELD_SCOPES.User!.name!, profile),
    role: hasScope(FIELD_SCOPES.User!.role!, profile),
    isActive: hasScope(FIELD_SCOPES.User!.isActive!, profile),
    subscription: and(isSelfOrAdmin, hasScope(FIELD_SCOPES.User!.subscription!)),
    usage: and(isSelfOrAdmin, hasScope(FIELD_SCOPES.User!.usage!)),
    tasks: and(isSelfOrAdmin, hasScope(FIELD_SCOPES.User!.tasks!)),
  },
  // endpointUrl answers null to anyone but an admin (its resolver): a list never fails on it.
  Tool: { '*': allow },
  Task: { '*': allow },
  Plan: { '*': allow },
  PlanSubscription: { '*': allow },
  // apiKey answers null for the owner's other keys when read with a key (its resolver).
  UsageRecord: { '*': allow },
  UsageSummary: { '*': allow },
  UsageByTool: { '*': allow },
  UsageByDay: { '*': allow },
  ApiKey: { '*': allow },
  ApiKeyCreated: { '*': allow },
  AuthPayload: { '*': allow },
  ToolInvocation: {
    '*': allow,
    subscription: hasScope(FIELD_SCOPES.ToolInvocation!.subscription!),
  },
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

/** A rule that answered false: FORBIDDEN for a signed-in caller, UNAUTHENTICATED otherwise. */
function fallbackError(ctx: unknown): Error {
  return (ctx as Context).viewer.kind === 'user'
    ? new ForbiddenError()
    : new UnauthenticatedError();
}

/**
 * The shield map applied to `schema` in place: default deny, fields whose rule is `allow` left
 * as they are, every other field checked synchronously before its resolver (./apply-rules.ts).
 */
export function guardSchema(schema: GraphQLSchema): GraphQLSchema {
  applyRules(schema, permissionRules, { fallbackRule: deny, fallbackError });
  return schema;
}

/** The map's rules for an operation's root fields, checked together before any runs. */
export function rootFieldsGate(schema: GraphQLSchema) {
  return rootFieldGate(schema, permissionRules, { fallbackRule: deny, fallbackError });
}

/**
 * The same map through graphql-shield's own middleware (what `guardSchema` replaces), kept for
 * `npm run bench:shield`, which measures both.
 */
export const permissions = shield(permissionRules, {
  fallbackRule: deny,
  allowExternalErrors: true,
  fallbackError: (_err, _parent, _args, ctx) => fallbackError(ctx),
});
