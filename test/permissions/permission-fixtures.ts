import { expectErrorCode, type GraphQLResponse } from '../helpers/graphql';
import type { TestApp } from '../helpers/create-test-app';
import type { SeededUser } from '../helpers/seed';

export const SCOPES = ['TASKS_READ', 'TASKS_WRITE', 'TOOLS_INVOKE', 'USAGE_READ'] as const;
export type Scope = (typeof SCOPES)[number];
/** The contract: what each scope opens, and what is open to anyone. */
export const SCOPE_FIELDS: Record<Scope, string[]> = {
  TASKS_READ: ['me', 'task', 'tasks'],
  TASKS_WRITE: ['createTask', 'updateTask', 'deleteTask'],
  TOOLS_INVOKE: ['tools', 'tool', 'invokeTool'],
  USAGE_READ: ['mySubscription', 'myUsage', 'usageRecords'],
};
export const PUBLIC_FIELDS = ['register', 'login', 'refreshToken', 'plans'];

export type Key = { id: string; secret: string };

export interface ScopedKeys {
  owner: SeededUser;
  /** A key with exactly one scope, and one with every scope but that one. */
  only: Record<Scope, Key>;
  lacking: Record<Scope, Key>;
  allScopes: Key;
}

/** A user with a key for each scope alone, each scope missing, and every scope. */
export async function seedScopedKeys(t: TestApp): Promise<ScopedKeys> {
  const owner = await t.seed.user();
  const only = {} as Record<Scope, Key>;
  const lacking = {} as Record<Scope, Key>;
  for (const scope of SCOPES) {
    only[scope] = await t.seed.apiKey(owner, [scope]);
    lacking[scope] = await t.seed.apiKey(
      owner,
      SCOPES.filter((s) => s !== scope),
    );
  }
  const allScopes = await t.seed.apiKey(owner, [...SCOPES]);
  return { owner, only, lacking, allScopes };
}

/**
 * `gql` on `app` when given, else on the file's app (looked up at each call: test files start
 * theirs in a `beforeAll`).
 */
export function caller(fileApp: () => TestApp) {
  return <T = Record<string, any>>(
    query: string,
    variables: Record<string, unknown> = {},
    token?: string,
    app: TestApp = fileApp(),
  ): Promise<GraphQLResponse<T>> => app.gql<T>(query, variables, token);
}

export function expectForbidden(res: GraphQLResponse, field: string) {
  const err = expectErrorCode(res, 'FORBIDDEN');
  expect(err.path).toEqual([field]);
  expect(res.data ?? { [field]: null }).toEqual({ [field]: null });
  return err;
}
