import type { TestApp } from '../helpers/create-test-app';
import {
  expectNoErrors,
  type GraphQLResponse,
  type OperationArgs,
  type TypedDocument,
} from '../helpers/graphql';
import {
  AuditLogDocument,
  SetUserActiveDocument,
  SetUserRoleDocument,
  type AuditLogQuery,
  type Role,
} from '../helpers/graphql-types';

/** `app.gql`, the app first: these files call two apps (see "in a database of its own"). */
export function call<T, V>(
  app: TestApp,
  document: TypedDocument<T, V>,
  ...args: OperationArgs<V>
): Promise<GraphQLResponse<T>>;
export function call<T = Record<string, any>>(
  app: TestApp,
  query: string,
  variables?: Record<string, unknown>,
  token?: string,
): Promise<GraphQLResponse<T>>;
export function call(
  app: TestApp,
  query: string | TypedDocument<unknown, unknown>,
  variables?: Record<string, unknown>,
  token?: string,
) {
  return app.gql(query.toString(), variables, token);
}

export const setRole = (app: TestApp, token: string, id: string, role: Role) =>
  call(app, SetUserRoleDocument, { id, role }, token);
export const setActive = (app: TestApp, token: string, id: string, active: boolean) =>
  call(app, SetUserActiveDocument, { id, active }, token);

type AuditEntry = AuditLogQuery['auditLog']['nodes'][number];

/** The audit entries about `targetId`, newest first (the log is shared with parallel files). */
export async function auditFor(
  app: TestApp,
  token: string,
  targetId: string,
): Promise<AuditEntry[]> {
  const found: AuditEntry[] = [];
  let after: string | null = null;
  for (let page = 0; page < 20; page += 1) {
    const log: AuditLogQuery['auditLog'] = expectNoErrors(
      await call(app, AuditLogDocument, { first: 100, after }, token),
    ).auditLog;
    found.push(...log.nodes.filter((n) => n.targetId === targetId));
    if (!log.pageInfo.hasNextPage) break;
    after = log.pageInfo.endCursor;
  }
  return found;
}
