import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import {
  getNamedType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';
import type { Context } from '../context';
import { QueryTooComplexError, RateLimitedError } from '../errors';
import type { CostBudget } from '../lib/cost-budget';
import { DEFAULT_PAGE_SIZE } from '../lib/pagination';
import type { Metrics } from '../metrics';

/**
 * The cost model, Shopify's: every field costs 1, and a paged field (one with `first`) costs its
 * children once per row it may return: `first`, or the default page size.
 */
const pagedEstimator: ComplexityEstimator = ({ args, childComplexity, field }) => {
  if (!field.args?.some((a) => a.name === 'first')) return undefined;
  const first = typeof args.first === 'number' ? args.first : DEFAULT_PAGE_SIZE;
  return 1 + childComplexity * Math.max(1, first);
};

/** The requested cost of the operation; null when the variables are bad (execution refuses them). */
export function requestedCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
  variables: Record<string, unknown>,
): number | null {
  try {
    return getComplexity({
      schema,
      query: document,
      operationName,
      variables,
      estimators: [pagedEstimator, simpleEstimator({ defaultComplexity: 1 })],
    });
  } catch (err) {
    const nodes = (err as { nodes?: readonly { kind: string }[] } | null)?.nodes;
    if (nodes?.length === 1 && nodes[0]!.kind === Kind.VARIABLE_DEFINITION) return null;
    if (err instanceof Error && /maximum allowed number of nodes/.test(err.message)) {
      return Infinity;
    }
    throw err;
  }
}

function unwrap(type: GraphQLOutputType): {
  list: boolean;
  named: ReturnType<typeof getNamedType>;
} {
  let t = type;
  if (isNonNullType(t)) t = t.ofType;
  return { list: isListType(t), named: getNamedType(type) };
}

/**
 * What the operation actually cost, by the same model over the rows that came back: a paged
 * field's children count once per row returned instead of per row it could have returned, and
 * a list's items by the costliest one. Never more than the requested cost.
 */
export function actualCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  data: Record<string, unknown> | null | undefined,
): number {
  if (!data) return 0;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  }
  const root =
    operation.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType();
  if (!root) return 0;

  const setCost = (
    set: SelectionSetNode,
    type: GraphQLObjectType,
    value: Record<string, unknown>,
  ): number => {
    let total = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const field = type.getFields()[selection.name.value];
        const key = selection.alias?.value ?? selection.name.value;
        if (!field) {
          total += selection.name.value === '__typename' ? 0 : 1;
          continue;
        }
        const v = value[key];
        if (v === undefined) continue; // skipped (@skip/@include) or never reached
        total += 1;
        if (!selection.selectionSet || v === null) continue;
        const { list, named } = unwrap(field.type);
        if (!isObjectType(named)) continue;
        const child = (item: unknown) =>
          item && typeof item === 'object'
            ? setCost(selection.selectionSet!, named, item as Record<string, unknown>)
            : 0;
        if (list && Array.isArray(v)) {
          let most = 0;
          for (const item of v) most = Math.max(most, child(item));
          total += most;
        } else if (field.args.some((a) => a.name === 'first')) {
          const rows = v as { nodes?: unknown[]; edges?: unknown[] };
          const n = Math.max(rows.nodes?.length ?? 0, rows.edges?.length ?? 0, 1);
          total += n * child(v);
        } else {
          total += child(v);
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        total += setCost(selection.selectionSet, type, value);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment) total += setCost(fragment.selectionSet, type, value);
      }
    }
    return total;
  };
  return setCost(operation.selectionSet, root, data);
}

/** Whose bucket pays: the API key, the user, or the address of an anonymous caller. */
export function costPayer(ctx: Context): string {
  const viewer = ctx.viewer;
  if (viewer.kind === 'anonymous') return `a:${ctx.clientAddress}`;
  return viewer.via === 'apiKey' ? `k:${viewer.apiKeyId}` : `u:${viewer.account.id}`;
}

function withStatus<E extends Error>(error: E, status: number, headers?: [string, string][]): E {
  (error as unknown as { extensions: Record<string, unknown> }).extensions.http = {
    status,
    headers: new HeaderMap(headers ?? []),
  };
  return error;
}

/**
 * Query cost, reported and budgeted (the contract's "Query cost"): the requested cost is checked
 * against the per-document limit, then taken from the payer's bucket before anything runs; what
 * the response did not use is given back, and every executed response reports
 * `extensions.cost` as Shopify's Admin API does.
 */
export function queryCostPlugin(
  schema: GraphQLSchema,
  budget: CostBudget,
  maxCost: number,
  metrics?: Metrics,
): ApolloServerPlugin<Context> {
  const { capacity, restoreRate } = budget.settings;
  return {
    async requestDidStart() {
      let requested: number | null = null;
      let payer = '';
      let available = capacity;
      let ran = false;
      return {
        async didResolveOperation({ document, operation, request, contextValue }) {
          if (!operation) return;
          requested = requestedCost(
            schema,
            document,
            request.operationName ?? undefined,
            request.variables ?? {},
          );
          if (requested === null) return; // bad variables: refused before anything runs
          if (requested > maxCost) {
            const shown = Number.isFinite(requested) ? requested : undefined;
            throw withStatus(
              new QueryTooComplexError(
                shown === undefined
                  ? 'The query has too many fields once its fragments are expanded'
                  : `Query cost ${shown} is over the limit of ${maxCost}`,
                { ...(shown === undefined ? {} : { cost: shown }), maxCost },
              ),
              400,
            );
          }
          payer = costPayer(contextValue);
          const take = await budget.take(payer, requested);
          available = take.available;
          if (!take.ok) {
            throw withStatus(new RateLimitedError(take.retryAfter), 429, [
              ['retry-after', String(take.retryAfter)],
            ]);
          }
          ran = true;
        },
        async willSendResponse({ response, document, operation }) {
          if (
            requested === null ||
            !Number.isFinite(requested) ||
            response.body.kind !== 'single'
          ) {
            return;
          }
          const result = response.body.singleResult;
          let actual = 0;
          if (ran && document && operation) {
            actual = Math.min(
              requested,
              actualCost(schema, document, operation, result.data as Record<string, unknown>),
            );
            if (actual < requested) available = await budget.refund(payer, requested - actual);
            metrics?.queryCost.observe(actual);
          }
          result.extensions = {
            ...result.extensions,
            cost: {
              requestedQueryCost: requested,
              actualQueryCost: actual,
              throttleStatus: {
                maximumAvailable: capacity,
                currentlyAvailable: Math.max(0, Math.floor(available)),
                restoreRate,
              },
            },
          };
        },
      };
    },
  };
}
