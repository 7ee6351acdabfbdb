import { expect } from '@jest/globals';
import type { TypedDocumentString } from './graphql-types';

/**
 * An operation of test/operations as `npm run codegen` generates it (./graphql-types): its text,
 * typed with its answer's data and its variables.
 */
export type TypedDocument<TData, TVariables> = TypedDocumentString<TData, TVariables>;

/** The variables, then the Bearer token: the variables may be left out only if all are optional. */
export type OperationArgs<TVariables> =
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- {}: no variable required
  {} extends TVariables
    ? [variables?: TVariables, token?: string]
    : [variables: TVariables, token?: string];

/**
 * A typed operation's text, for a call its types refuse on purpose: variables the server must
 * reject, or one table of operations of different types.
 */
export const untyped = (document: TypedDocument<any, any>): string => document.toString();

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  headers: Headers;
  data: T | null | undefined;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
  extensions?: Record<string, any>;
}

/** The contract's error codes (../shared/contract/README.md): no error may carry another. */
export const CONTRACT_ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'CONFLICT',
  'QUOTA_EXCEEDED',
  'RATE_LIMITED',
  'UPSTREAM_ERROR',
  'UPSTREAM_TIMEOUT',
  'QUERY_TOO_COMPLEX',
  'SERVICE_UNAVAILABLE',
  'INTERNAL_SERVER_ERROR',
];

/**
 * POSTs one operation (a typed document or any text) to `baseUrl`/graphql the way a client would;
 * fails on any error whose code is not one of the contract's.
 */
export async function gql<T = Record<string, any>, V = Record<string, unknown>>(
  baseUrl: string,
  query: string | TypedDocument<T, V>,
  variables: V | Record<string, unknown> = {},
  token?: string,
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<T>> {
  const res = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: JSON.stringify({ query: query.toString(), variables }),
  });
  const body = (await res.json()) as {
    data?: T | null;
    errors?: GraphQLResponse['errors'];
    extensions?: Record<string, any>;
  };
  // Every response of every test is held to the contract's codes.
  for (const error of body.errors ?? []) {
    if (!CONTRACT_ERROR_CODES.includes(error.extensions?.code)) {
      throw new Error(`Error outside the contract's codes: ${JSON.stringify(error)}`);
    }
  }
  return {
    status: res.status,
    headers: res.headers,
    data: body.data,
    errors: body.errors,
    extensions: body.extensions,
  };
}

/** The data of a response that must have no errors. */
export function expectNoErrors<T>(res: GraphQLResponse<T>): T {
  if (res.errors?.length) {
    throw new Error(`Expected no errors, got: ${JSON.stringify(res.errors, null, 2)}`);
  }
  expect(res.data).toBeTruthy();
  return res.data as T;
}

/** The first error of a response that must fail with `code`. */
export function expectErrorCode(res: GraphQLResponse<unknown>, code: string) {
  const codes = (res.errors ?? []).map((e) => e.extensions?.code);
  if (!codes.includes(code)) {
    throw new Error(
      `Expected error ${code}, got: ${JSON.stringify(res.errors ?? res.data, null, 2)}`,
    );
  }
  return res.errors!.find((e) => e.extensions?.code === code)!;
}
