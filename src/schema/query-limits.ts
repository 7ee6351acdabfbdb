import type { ApolloServerPlugin } from '@apollo/server';
import {
  Kind,
  parse,
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

interface Measure {
  /** Levels of selection sets below this one. */
  depth: number;
  /** Aliases in it, fragments counted once per spread. */
  aliases: number;
}

/**
 * Depth and aliases of a selection set. Each fragment is measured once (per introspection
 * context) and reused at every spread, so a document that spreads fragments into each other
 * many times over costs one pass, not one per expanded field.
 */
function measure(
  set: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
  introspection: boolean,
  cache: Map<string, Measure>,
  seen: Set<string>,
): Measure {
  let depth = 0;
  let aliases = 0;
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.alias) aliases += 1;
      if (!selection.selectionSet) continue;
      const name = selection.name.value;
      const inIntrospection = introspection || name === '__schema' || name === '__type';
      const inner = measure(selection.selectionSet, fragments, inIntrospection, cache, seen);
      // In introspection `ofType` unwraps a list or non-null type: a single object, no
      // fan-out. The standard introspection query (GraphiQL, codegen) nests it seven deep.
      const level = inIntrospection && name === 'ofType' ? 0 : 1;
      depth = Math.max(depth, inner.depth + level);
      aliases += inner.aliases;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const inner = measure(selection.selectionSet, fragments, introspection, cache, seen);
      depth = Math.max(depth, inner.depth);
      aliases += inner.aliases;
    } else {
      const name = selection.name.value;
      const key = `${name}:${introspection}`;
      let inner = cache.get(key);
      const fragment = fragments.get(name);
      if (!inner && fragment && !seen.has(name)) {
        seen.add(name);
        inner = measure(fragment.selectionSet, fragments, introspection, cache, seen);
        seen.delete(name);
        cache.set(key, inner);
      }
      if (inner) {
        depth = Math.max(depth, inner.depth);
        aliases += inner.aliases;
      }
    }
  }
  return { depth, aliases };
}

/** An input error in the variables: execution refuses it with BAD_USER_INPUT before any resolver. */
function isVariableError(err: unknown): boolean {
  const nodes = (err as { nodes?: readonly { kind: string }[] } | null)?.nodes;
  return nodes?.length === 1 && nodes[0]!.kind === Kind.VARIABLE_DEFINITION;
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
/** How often one response name may be selected in one selection set. */
export const MAX_REPEATS = 20;

/**
 * The most often any response name is selected within one selection set (inline fragments are
 * counted with their parent). GraphQL's "fields can be merged" validation compares every pair of
 * same-named selections, so a few kilobytes of `plans{tier} plans{tier} …` would cost a tenth of a
 * second of CPU before any other limit looks at it: such documents are refused before validation.
 */
function mostRepeated(doc: DocumentNode): { name: string; count: number } {
  let worst = { name: '', count: 0 };
  const sets: SelectionSetNode[] = [];
  for (const def of doc.definitions) {
    if ('selectionSet' in def && def.selectionSet) sets.push(def.selectionSet);
  }
  while (sets.length > 0) {
    const set = sets.pop()!;
    const counts = new Map<string, number>();
    const pending = [set];
    while (pending.length > 0) {
      for (const selection of pending.pop()!.selections) {
        if (selection.kind === Kind.INLINE_FRAGMENT) {
          pending.push(selection.selectionSet);
        } else if (selection.kind === Kind.FIELD) {
          const name = selection.alias?.value ?? selection.name.value;
          const count = (counts.get(name) ?? 0) + 1;
          counts.set(name, count);
          if (count > worst.count) worst = { name, count };
          if (selection.selectionSet) sets.push(selection.selectionSet);
        }
      }
    }
  }
  return worst;
}

/** Documents shorter than this cannot repeat a field often enough to cost anything. */
const REPEAT_CHECK_MIN_LENGTH = 400;

/**
 * The GraphQL error for a document that selects one response name more than MAX_REPEATS times
 * in a selection set, or null. Runs before Apollo (whose plugin hooks cannot refuse a request
 * before validation with a client error), on documents long enough to matter; a document that
 * does not parse is left to Apollo to refuse.
 */
export function repeatedSelectionRefusal(
  query: unknown,
  maxTokens: number,
): { message: string; extensions: Record<string, unknown> } | null {
  if (typeof query !== 'string' || query.length < REPEAT_CHECK_MIN_LENGTH) return null;
  let doc: DocumentNode;
  try {
    doc = parse(query, { maxTokens, noLocation: true });
  } catch {
    return null;
  }
  const worst = mostRepeated(doc);
  if (worst.count <= MAX_REPEATS) return null;
  return {
    message: `${worst.name} is selected ${worst.count} times in one selection set (at most ${MAX_REPEATS})`,
    extensions: {
      code: 'QUERY_TOO_COMPLEX',
      field: worst.name,
      repeats: worst.count,
      maxRepeats: MAX_REPEATS,
    },
  };
}

/** What the pre-validation checks bound (from config). */
export interface DocumentLimits {
  maxTokens: number;
  maxDepth: number;
  maxAliases: number;
}

export interface DocumentRefusal {
  message: string;
  extensions: Record<string, unknown> & { code: 'QUERY_TOO_COMPLEX' | 'BAD_USER_INPUT' };
}

/**
 * The refusal for a document that must not reach validation (or execution), or null. Runs on
 * every request before Apollo parses and validates.
 */
export function preValidationRefusal(
  source: unknown,
  _operationName: unknown,
  limits: DocumentLimits,
): DocumentRefusal | null {
  return repeatedSelectionRefusal(source, limits.maxTokens) as DocumentRefusal | null;
}

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
          const measured = measure(operation.selectionSet, fragments, false, new Map(), new Set());
          const counts = { aliases: measured.aliases, depth: measured.depth + 1 };
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
          let cost: number;
          try {
            cost = getComplexity({
              schema,
              query: doc,
              operationName: request.operationName ?? undefined,
              variables: request.variables ?? {},
              estimators: [pagedEstimator, simpleEstimator({ defaultComplexity: 1 })],
            });
          } catch (err) {
            // Execution refuses bad variables with BAD_USER_INPUT before anything runs.
            if (isVariableError(err)) return;
            if (err instanceof Error && /maximum allowed number of nodes/.test(err.message)) {
              throw tooComplex('The query has too many fields once its fragments are expanded', {
                maxCost: limits.maxCost,
              });
            }
            throw err;
          }
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
