import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchemaSync, type NonEmptyArray } from 'type-graphql';
import { sessionBeforeInputErrors } from '../auth/session-check';
import { validateArgument } from '../lib/validation';
import type { Services } from '../services';
import { AccountResolver } from '../resolvers/accounts/account.resolver';
import { AdminResolver } from '../resolvers/admin/admin.resolver';
import { AuditEntryResolver } from '../resolvers/admin/audit-entry.resolver';
import { StatsResolver } from '../resolvers/admin/stats.resolver';
import { ApiKeyResolver } from '../resolvers/api-keys/api-key.resolver';
import { PlanResolver } from '../resolvers/plans/plan.resolver';
import { UserSubscriptionResolver } from '../resolvers/plans/user-subscription.resolver';
import { TaskResolver } from '../resolvers/tasks/task.resolver';
import { UserTasksResolver } from '../resolvers/tasks/user-tasks.resolver';
import { ToolResolver } from '../resolvers/tools/tool.resolver';
import { UsageResolver } from '../resolvers/usage/usage.resolver';
import {
  UsageByToolResolver,
  UsageSummaryResolver,
} from '../resolvers/usage/usage-summary.resolver';
import { UserUsageResolver } from '../resolvers/usage/user-usage.resolver';
import { validateArgumentsAtOnce } from './arguments-at-once';
import { DateTimeScalar } from './scalars';

const resolvers = [
  AccountResolver,
  TaskResolver,
  UserTasksResolver,
  AdminResolver,
  AuditEntryResolver,
  StatsResolver,
  PlanResolver,
  UserSubscriptionResolver,
  ToolResolver,
  UsageResolver,
  UsageSummaryResolver,
  UsageByToolResolver,
  UserUsageResolver,
  ApiKeyResolver,
] as const;

/**
 * The schema from the resolver classes. Resolvers are built once per app with its services;
 * for emitting the SDL no services are needed.
 */
export function buildAppSchema(services?: Services): GraphQLSchema {
  validateArgumentsAtOnce();
  const instances = new Map<unknown, unknown>(
    resolvers.map((Resolver) => [Resolver, new Resolver(services as Services)]),
  );
  const schema = buildSchemaSync({
    resolvers: resolvers as unknown as NonEmptyArray<Function>,
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    validate: true,
    validateFn: sessionBeforeInputErrors(validateArgument),
    container: { get: (cls) => instances.get(cls) },
  });
  // type-graphql has no option for the root types' own descriptions.
  schema.getQueryType()!.description =
    'Read entry points. Unless marked public, a field needs a signed-in caller (else UNAUTHENTICATED); ADMIN fields need an admin signed in with an access token, and an API key reaches only what its scopes list (else FORBIDDEN).';
  schema.getMutationType()!.description =
    'Write entry points. Unless marked public, a field needs a signed-in caller (else UNAUTHENTICATED); ADMIN fields need an admin signed in with an access token, and an API key reaches only what its scopes list (else FORBIDDEN).';
  return schema;
}

/** The SDL committed at src/schema/schema.graphql: sorted, so that diffs stay readable. */
export function printAppSchema(schema: GraphQLSchema = buildAppSchema()): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
