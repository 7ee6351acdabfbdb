import { expectNoErrors, type GraphQLResponse } from '../helpers/graphql';
import type { TestApp } from '../helpers/create-test-app';

/** Operations and calls the admin test files share. */
export const USERS = `query($first: Int, $after: String, $filter: UserFilter) {
  users(first: $first, after: $after, filter: $filter) {
    totalCount
    edges { cursor node { id email name role isActive createdAt } }
    nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;
export const USER = `query($id: ID!) { user(id: $id) { id email name role isActive } }`;
export const SET_ROLE = `mutation($id: ID!, $role: Role!) { setUserRole(userId: $id, role: $role) { id role isActive } }`;
export const SET_ACTIVE = `mutation($id: ID!, $active: Boolean!) { setUserActive(userId: $id, active: $active) { id role isActive } }`;
export const AUDIT = `query($first: Int, $after: String) {
  auditLog(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    nodes { id action targetType targetId details createdAt actor { id email role } }
  }
}`;
export const ME = `{ me { id role isActive } }`;
export const LOGIN = `mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }`;
export const REFRESH = `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }`;

export const call = <T = Record<string, any>>(
  app: TestApp,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<GraphQLResponse<T>> => app.gql<T>(query, variables, token);

export const setRole = (app: TestApp, token: string, id: string, role: 'USER' | 'ADMIN') =>
  call(app, SET_ROLE, { id, role }, token);
export const setActive = (app: TestApp, token: string, id: string, active: boolean) =>
  call(app, SET_ACTIVE, { id, active }, token);

/** The audit entries about `targetId`, newest first (the log is shared with parallel files). */
export async function auditFor(app: TestApp, token: string, targetId: string): Promise<any[]> {
  const found: any[] = [];
  let after: string | null = null;
  for (let page = 0; page < 20; page += 1) {
    const log: any = expectNoErrors(await call(app, AUDIT, { first: 100, after }, token)).auditLog;
    found.push(...log.nodes.filter((n: any) => n.targetId === targetId));
    if (!log.pageInfo.hasNextPage) break;
    after = log.pageInfo.endCursor;
  }
  return found;
}
