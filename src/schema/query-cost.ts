import { HeaderMap } from '@apollo/server';
import type { RequestPlugin } from '../http/request-plugins';
import {
  getNamedType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { isUnverified, verifySessionNow } from '../auth/session-check';
import { INVALID_CREDENTIALS } from '../auth/viewer';
import type { Context } from '../context';
import { QueryTooComplexError, RateLimitedError } from '../errors';
import type { CostBudget, Take } from '../lib/cost-budget';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../lib/pagination';
import type { Metrics } from '../metrics';
import { annotateActiveSpan, telemetry } from '../telemetry';

/** Where a paged field's `first` comes from. */
type First = { literal: number } | { variable: string } | null;

/**
 * Fields whose values can be large, by type and field: a point for every 200 characters they
 * may hold, instead of 1. A task's description holds up to 10,000 characters: at 1 point, a
 * document of 30 aliased pages of 100 descriptions cost 6,030 points and 30 MB of answer (0.7 s
 * of the event loop); at 50, a page of 100 descriptions costs 5,101 points, and three fit the
 * per-document limit.
 */
const FIELD_WEIGHTS = new Map<string, number>([['Task.description', 50]]);

/** One field of an operation, as the cost model sees it (fragments inlined). */
interface CostNode {
  /** The field's key in the response (its alias or name). */
  key: string;
  /** What the field itself costs: 1, or its FIELD_WEIGHTS entry. */
  weight: number;
  /** Present on a paged field (one with a `first` argument). */
  first: First | undefined;
  /** Whether the field returns a list (its items are costed by the costliest one). */
  list: boolean;
  children: CostNode[];
}

/**
 * The operation's fields with fragments inlined, made once per parsed document (Apollo keeps
 * parsed documents, so the same query string is the same object) and reused: a request then
 * costs a walk of this small tree, not a schema-typed visit of the document.
 */
const plans = new WeakMap<DocumentNode, Map<string, CostNode[]>>();

function compile(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): CostNode[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  }
  const root =
    operation.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType();
  const visit = (set: SelectionSetNode, type: GraphQLObjectType, out: CostNode[]) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const field = type.getFields()[selection.name.value];
        if (!field) continue; // __typename and introspection cost nothing
        const node: CostNode = {
          key: selection.alias?.value ?? selection.name.value,
          weight: FIELD_WEIGHTS.get(`${type.name}.${field.name}`) ?? 1,
          first: undefined,
          list: false,
          children: [],
        };
        if (field.args.some((arg) => arg.name === 'first')) {
          const arg = selection.arguments?.find((a) => a.name.value === 'first');
          node.first =
            arg?.value.kind === Kind.INT
              ? { literal: Number(arg.value.value) }
              : arg?.value.kind === Kind.VARIABLE
                ? { variable: arg.value.name.value }
                : null;
        }
        const t = isNonNullType(field.type) ? field.type.ofType : field.type;
        node.list = isListType(t);
        const named = getNamedType(field.type);
        if (selection.selectionSet && isObjectType(named)) {
          visit(selection.selectionSet, named, node.children);
        }
        out.push(node);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const on = selection.typeCondition
          ? schema.getType(selection.typeCondition.name.value)
          : type;
        visit(selection.selectionSet, isObjectType(on) ? on : type, out);
      } else {
        const fragment = fragments.get(selection.name.value);
        const on = fragment && schema.getType(fragment.typeCondition.name.value);
        if (fragment) visit(fragment.selectionSet, isObjectType(on) ? on : type, out);
      }
    }
  };
  const nodes: CostNode[] = [];
  if (root) visit(operation.selectionSet, root, nodes);
  return nodes;
}

function planOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): CostNode[] {
  let byOperation = plans.get(document);
  if (!byOperation) plans.set(document, (byOperation = new Map()));
  const name = operation.name?.value ?? '';
  let plan = byOperation.get(name);
  if (!plan) byOperation.set(name, (plan = compile(schema, document, operation)));
  return plan;
}

/** What an Int variable may hold; anything else fails coercion before the operation runs. */
const isInt32 = (value: unknown): value is number =>
  Number.isInteger(value) && (value as number) >= -(2 ** 31) && (value as number) < 2 ** 31;

/**
 * The rows `first` may return, for the cost: a literal, a variable, or the default page, within
 * 1..MAX_PAGE_SIZE (a page never returns more; outside that range the field itself answers
 * BAD_USER_INPUT, not the cost check QUERY_TOO_COMPLEX). Null: a variable that is not an Int,
 * which coercion refuses before anything runs.
 */
function firstOf(first: First, variables: Record<string, unknown>): number | null {
  let rows: number;
  if (first === null) return DEFAULT_PAGE_SIZE;
  if ('literal' in first) rows = first.literal;
  else {
    const value = variables[first.variable];
    if (value === undefined || value === null) return DEFAULT_PAGE_SIZE;
    if (!isInt32(value)) return null;
    rows = value;
  }
  return Math.min(MAX_PAGE_SIZE, Math.max(1, rows));
}

/**
 * The requested cost, Shopify's model: every field costs 1 (a large one its FIELD_WEIGHTS), and
 * a paged field (one with `first`) costs its children once per row it may return: `first`, or
 * the default page size.
 * Null when a variable is bad (execution refuses it before anything runs).
 */
export function requestedCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
): number | null {
  let bad = false;
  const cost = (nodes: CostNode[]): number => {
    let total = 0;
    for (const node of nodes) {
      const children = cost(node.children);
      if (node.first !== undefined) {
        const first = firstOf(node.first, variables);
        if (first === null) bad = true;
        total += node.weight + children * Math.max(1, first ?? 1);
      } else total += node.weight + children;
    }
    return total;
  };
  const total = cost(planOf(schema, document, operation));
  return bad ? null : total;
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
  const cost = (nodes: CostNode[], value: Record<string, unknown>): number => {
    let total = 0;
    for (const node of nodes) {
      const v = value[node.key];
      if (v === undefined) continue; // skipped (@skip/@include) or never reached
      total += node.weight;
      if (node.children.length === 0 || v === null || typeof v !== 'object') continue;
      if (node.list && Array.isArray(v)) {
        let most = 0;
        for (const item of v) {
          if (item && typeof item === 'object') {
            most = Math.max(most, cost(node.children, item as Record<string, unknown>));
          }
        }
        total += most;
      } else if (node.first !== undefined) {
        const rows = v as { nodes?: unknown[]; edges?: unknown[] };
        const n = Math.max(rows.nodes?.length ?? 0, rows.edges?.length ?? 0, 1);
        total += n * cost(node.children, v as Record<string, unknown>);
      } else {
        total += cost(node.children, v as Record<string, unknown>);
      }
    }
    return total;
  };
  return cost(planOf(schema, document, operation), data);
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
): RequestPlugin<Context> {
  const { capacity, restoreRate } = budget.settings;
  return {
    requestDidStart() {
      let requested: number | null = null;
      let payer = '';
      let available = capacity;
      let ran = false;
      const settle = (take: Take) => {
        available = take.available;
        if (!take.ok) {
          throw withStatus(new RateLimitedError(take.retryAfter), 429, [
            ['retry-after', String(take.retryAfter)],
          ]);
        }
        ran = true;
      };
      const payLater = async (ctx: Context, cost: number, first: Take | Promise<Take>) => {
        let take = await first;
        if (!take.ok && isUnverified(ctx.viewer)) {
          // Refused on the account's bucket before its session was checked: a gone session
          // pays from its address's bucket, as it would have up front.
          await verifySessionNow(ctx);
          if (ctx.viewer.kind === 'anonymous') {
            payer = costPayer(ctx);
            take = await budget.take(payer, cost);
          }
        }
        settle(take);
      };
      /** Takes the cost from the payer's bucket: at once when the bucket is in-process. */
      const pay = (ctx: Context, cost: number): void | Promise<void> => {
        payer = costPayer(ctx);
        const take = budget.take(payer, cost);
        if (take instanceof Promise || (!take.ok && isUnverified(ctx.viewer))) {
          return payLater(ctx, cost, take);
        }
        settle(take);
      };
      const report = (result: { extensions?: Record<string, unknown> }, actual: number) => {
        // The operation's span (http/operation-telemetry.ts) is the active one in Apollo's hooks.
        if (telemetry.enabled) {
          annotateActiveSpan({
            'switchboard.query_cost.requested': requested!,
            'switchboard.query_cost.actual': actual,
          });
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
      };
      return {
        didResolveOperation({ document, operation, request, contextValue }) {
          if (!operation) return;
          requested = requestedCost(schema, document, operation, request.variables ?? {});
          if (requested === null) return; // bad variables: refused before anything runs
          if (requested > maxCost) {
            throw withStatus(
              new QueryTooComplexError(`Query cost ${requested} is over the limit of ${maxCost}`, {
                cost: requested,
                maxCost,
              }),
              400,
            );
          }
          const cost = requested;
          // An unverified viewer being checked on its own (http/session-deferral.ts): its outcome
          // decides who pays.
          if (contextValue.session) return contextValue.session.then(() => pay(contextValue, cost));
          return pay(contextValue, cost);
        },
        willSendResponse({ response, document, operation, contextValue }) {
          if (requested === null || response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          if (!ran || !document || !operation) return report(result, 0);
          const cost = requested;
          const actual = Math.min(
            cost,
            actualCost(schema, document, operation, result.data as Record<string, unknown>),
          );
          metrics?.queryCost.observe(actual);
          if (isUnverified(contextValue.viewer)) {
            // The session rode on the page and proved gone (auth/session-check.ts): the account
            // pays nothing back; the address pays what ran, and its bucket is the one reported,
            // as up front.
            return (async () => {
              await budget.refund(payer, cost);
              payer = costPayer({ ...contextValue, viewer: INVALID_CREDENTIALS });
              available = (await budget.take(payer, actual)).available;
              report(result, actual);
            })();
          }
          if (actual < cost) {
            const left = budget.refund(payer, cost - actual);
            if (left instanceof Promise) {
              return left.then((points) => {
                available = points;
                report(result, actual);
              });
            }
            available = left;
          }
          report(result, actual);
        },
      };
    },
  };
}
