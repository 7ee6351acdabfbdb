/** The largest value of GraphQL's Int (32-bit signed). */
export const MAX_GRAPHQL_INT = 2_147_483_647;

/**
 * A count or token sum from SQL (bigint arrives as text) as a GraphQL Int. Sums over a busy
 * platform can pass 2^31 - 1, which `Int` cannot carry; saturating there keeps the field
 * answering (and the contract's types) instead of failing the whole response.
 */
export function toGraphQLInt(value: string | number | bigint | null | undefined): number {
  const n = Number(value ?? 0);
  if (!Number.isFinite(n)) return 0;
  return Math.min(n, MAX_GRAPHQL_INT);
}
