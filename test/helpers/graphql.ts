import { expect } from '@jest/globals';

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  headers: Headers;
  data: T | null | undefined;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
}

/** POSTs one operation to `baseUrl`/graphql the way a client would. */
export async function gql<T = Record<string, any>>(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
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
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T | null; errors?: GraphQLResponse['errors'] };
  return { status: res.status, headers: res.headers, data: body.data, errors: body.errors };
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
export function expectErrorCode<T>(res: GraphQLResponse<T>, code: string) {
  const codes = (res.errors ?? []).map((e) => e.extensions?.code);
  if (!codes.includes(code)) {
    throw new Error(
      `Expected error ${code}, got: ${JSON.stringify(res.errors ?? res.data, null, 2)}`,
    );
  }
  return res.errors!.find((e) => e.extensions?.code === code)!;
}
