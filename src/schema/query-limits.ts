import type { ApolloServerPlugin } from '@apollo/server';
import {
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';
import { QueryTooComplexError } from '../errors';
import { DEFAULT_PAGE_SIZE } from '../lib/pagination';

export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
}

/** A list field costs its children once per row it may return: `first`, or the default page. */
const pagedEstimator: ComplexityEstimator = ({ args, childComplexity, field }) => {
  if (!('first' in (field.args ? Object.fromEntries(field.args.map((a) => [a.name, a])) : {}))) {
    return undefined;
  }
  const first = typeof args.first === 'number' ? args.first : DEFAULT_PAGE_SIZE;
  return 1 + childComplexity * Math.max(1, first);
};

function measure(
  set: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
  depth: number,
  seen: Set<string>,
  counts: { aliases: number; depth: number },
): void {
  counts.depth = Math.max(counts.depth, depth);
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.alias) counts.aliases += 1;
      if (selection.selectionSet) {
        measure(selection.selectionSet, fragments, depth + 1, seen, counts);
      }
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      measure(selection.selectionSet, fragments, depth, seen, counts);
    } else {
      const fragment = fragments.get(selection.name.value);
      if (fragment && !seen.has(fragment.name.value)) {
        seen.add(fragment.name.value);
        measure(fragment.selectionSet, fragments, depth, seen, counts);
        seen.delete(fragment.name.value);
      }
    }
  }
}

function tooComplex(message: string, extra: Record<string, unknown>): QueryTooComplexError {
  const error = new QueryTooComplexError(message, extra);
  (error.extensions as Record<string, unknown>).http = { status: 400 };
  return error;
}

/**
 * Depth, alias and cost limits, checked once the operation is known (so that cost can read
 * the variables), before anything runs. Document size is bounded by the parser's token limit
 * and the HTTP body limit.
 */
export function queryLimitsPlugin(schema: GraphQLSchema, limits: QueryLimits): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, request }) {
          if (!operation) return;
          const doc = document as DocumentNode;
          const fragments = new Map<string, FragmentDefinitionNode>();
          for (const def of doc.definitions) {
            if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
          }
          const counts = { aliases: 0, depth: 0 };
          measure(operation.selectionSet, fragments, 1, new Set(), counts);
          if (counts.depth > limits.maxDepth) {
            throw tooComplex(
              `Query depth ${counts.depth} is over the limit of ${limits.maxDepth}`,
              {
                depth: counts.depth,
                maxDepth: limits.maxDepth,
              },
            );
          }
          if (counts.aliases > limits.maxAliases) {
            throw tooComplex(
              `${counts.aliases} aliases is over the limit of ${limits.maxAliases}`,
              {
                aliases: counts.aliases,
                maxAliases: limits.maxAliases,
              },
            );
          }
          const cost = getComplexity({
            schema,
            query: doc,
            operationName: request.operationName ?? undefined,
            variables: request.variables ?? {},
            estimators: [pagedEstimator, simpleEstimator({ defaultComplexity: 1 })],
          });
          if (cost > limits.maxCost) {
            throw tooComplex(`Query cost ${cost} is over the limit of ${limits.maxCost}`, {
              cost,
              maxCost: limits.maxCost,
            });
          }
        },
      };
    },
  };
}
