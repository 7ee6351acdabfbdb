import {
  defaultFieldResolver,
  isIntrospectionType,
  isObjectType,
  Kind,
  locatedError,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLFieldResolver,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { getArgumentValues } from 'graphql/execution/values';
import { allow, deny } from 'graphql-shield';
import type { IRules, ShieldRule } from 'graphql-shield/typings/types';

/**
 * graphql-shield exports its rule constructors, not its rule classes: a rule is told by its
 * shape (a rule has `func`, a logic rule `getRules`) and a logic rule by its class name.
 */
interface Rule {
  name: string;
  cache: string;
  func: (parent: unknown, args: unknown, ctx: unknown, info: unknown) => unknown;
}
interface LogicRule {
  getRules(): ShieldRule[];
}
const isRule = (r: unknown): r is Rule =>
  typeof r === 'object' && r !== null && typeof (r as Rule).func === 'function';
const isLogicRule = (r: unknown): r is LogicRule =>
  typeof r === 'object' && r !== null && typeof (r as LogicRule).getRules === 'function';
const kindOf = (r: object) => r.constructor.name;

type Verdict = boolean | Error | Promise<boolean | Error>;

interface Options {
  /** The rule of a field (or type) the map does not name: deny. */
  fallbackRule: ShieldRule;
  /** The error of a rule that answered false. */
  fallbackError: (ctx: unknown) => Error;
}

/** One rule's answer, normalized as graphql-shield does: true, an Error, or false. */
function normalize(result: unknown): boolean | Error {
  if (result === true) return true;
  if (result instanceof Error) return result;
  if (typeof result === 'string') return new Error(result);
  return false;
}

/** Per request (context), the answers of rules that depend on the context alone. */
const contextual = new WeakMap<object, Map<Rule, boolean | Error>>();

function evaluate(
  rule: ShieldRule,
  parent: unknown,
  args: Record<string, unknown>,
  ctx: object,
  info: GraphQLResolveInfo,
): Verdict {
  if (rule === allow) return true;
  if (rule === deny) return false;
  if (isLogicRule(rule) && (kindOf(rule) === 'RuleAnd' || kindOf(rule) === 'RuleOr')) {
    const and = kindOf(rule) === 'RuleAnd';
    const results = rule.getRules().map((r) => evaluate(r, parent, args, ctx, info));
    const combine = (values: (boolean | Error)[]): boolean | Error => {
      if (and) {
        if (values.every((v) => v === true)) return true;
        return values.find((v) => v instanceof Error) ?? false;
      }
      if (values.some((v) => v === true)) return true;
      return values.find((v) => v instanceof Error) ?? false;
    };
    return results.some((r) => r instanceof Promise)
      ? Promise.all(results).then(combine)
      : combine(results as (boolean | Error)[]);
  }
  if (isRule(rule)) {
    const cached = rule.cache === 'contextual';
    if (cached) {
      const known = contextual.get(ctx)?.get(rule);
      if (known !== undefined) return known;
    }
    let result: unknown;
    try {
      result = rule.func(parent, args, ctx, info);
    } catch {
      return false; // as graphql-shield without debug: a rule that throws denies
    }
    const remember = (value: boolean | Error) => {
      if (cached) {
        let map = contextual.get(ctx);
        if (!map) contextual.set(ctx, (map = new Map()));
        map.set(rule, value);
      }
      return value;
    };
    return result instanceof Promise
      ? result.then(normalize, () => false).then(remember)
      : remember(normalize(result));
  }
  // not, chain and race are not used in the map; refusing them keeps the evaluator honest.
  throw new Error(`Unsupported permission rule ${kindOf(rule as object)}`);
}

/** A field's rule in the map: its own, its type's (one rule, or `*`), or the fallback. */
function ruleOf(
  typeRules: ShieldRule | Record<string, ShieldRule> | undefined,
  field: string,
  fallback: ShieldRule,
): ShieldRule {
  if (!typeRules) return fallback;
  if (isRule(typeRules) || isLogicRule(typeRules)) return typeRules as ShieldRule;
  const fieldRules = typeRules as Record<string, ShieldRule>;
  return fieldRules[field] ?? fieldRules['*'] ?? fallback;
}

/**
 * Applies graphql-shield's rule map with graphql-shield's semantics (default deny, a type's `*`
 * wildcard, logic rules, contextual caching, allowExternalErrors, the fallback error) but
 * evaluates the rules synchronously in the field's own resolver. graphql-shield's middleware makes
 * every guarded field an async function with a cache lookup, whatever its rule: on a page of 50
 * users that is hundreds of promises (and their async-hook bookkeeping) for checks that are
 * comparisons. Fields whose rule is `allow` keep their resolver untouched.
 */
export function applyRules(schema: GraphQLSchema, rules: IRules, options: Options): void {
  const map = rules as Record<string, ShieldRule | Record<string, ShieldRule>>;
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || isIntrospectionType(type)) continue;
    const typeRules = map[type.name];
    const fields = type.getFields();
    const single = isRule(typeRules) || isLogicRule(typeRules);
    if (typeRules && !single) {
      for (const name of Object.keys(typeRules)) {
        if (name !== '*' && !(name in fields)) {
          throw new Error(`Permission rule for ${type.name}.${name}, which the schema lacks`);
        }
      }
    }
    for (const [name, field] of Object.entries(fields)) {
      const rule = ruleOf(typeRules, name, options.fallbackRule);
      if (rule === allow) continue;
      const resolve: GraphQLFieldResolver<unknown, object> = field.resolve ?? defaultFieldResolver;
      const fallback = options.fallbackError;
      // A rule that depends on the context alone, once it has allowed this request, allows it at
      // once: a page of 20 tasks asks it for each owner's email and name.
      const perRequest = isRule(rule) && rule.cache === 'contextual' ? rule : null;
      const guarded: GraphQLFieldResolver<unknown, object> = (parent, args, ctx, info) => {
        if (perRequest && contextual.get(ctx)?.get(perRequest) === true) {
          return resolve(parent, args, ctx, info);
        }
        const verdict = evaluate(rule, parent, args, ctx, info);
        const decide = (v: boolean | Error) => {
          if (v === true) return resolve(parent, args, ctx, info);
          return v instanceof Error ? v : fallback(ctx);
        };
        return verdict instanceof Promise ? verdict.then(decide) : decide(verdict);
      };
      field.resolve = guarded;
    }
  }
}

/**
 * The permission rules of an operation's root fields, checked together before any of them runs.
 * A mutation's root fields run one after another, each checked as it starts: one refused after
 * another ran (a key with TOOLS_INVOKE sending `invokeTool` and then `createTask`) nulls the
 * whole answer, so its caller never sees what the first did, a charge included. Returns the
 * first refusal, or null when every root field may run.
 */
export function rootFieldGate(schema: GraphQLSchema, rules: IRules, options: Options) {
  const map = rules as Record<string, ShieldRule | Record<string, ShieldRule>>;
  return (
    operation: OperationDefinitionNode,
    fragments: Record<string, FragmentDefinitionNode>,
    variables: Record<string, unknown>,
    ctx: object,
  ): Error | null | Promise<Error | null> => {
    const root = schema.getRootType(operation.operation);
    if (!root) return null;
    const typeRules = map[root.name];
    const fields = root.getFields();
    const verdicts: { verdict: Verdict; node: FieldNode; key: string }[] = [];
    const visit = (set: SelectionSetNode) => {
      for (const selection of set.selections) {
        if (selection.kind === Kind.INLINE_FRAGMENT) visit(selection.selectionSet);
        else if (selection.kind === Kind.FRAGMENT_SPREAD) {
          const fragment = fragments[selection.name.value];
          if (fragment) visit(fragment.selectionSet);
        } else {
          const field = fields[selection.name.value];
          if (!field) continue; // __typename
          const rule = ruleOf(typeRules, field.name, options.fallbackRule);
          if (rule === allow) continue;
          const info = {
            fieldName: field.name,
            fieldNodes: [selection],
            returnType: field.type,
            parentType: root,
            path: {
              prev: undefined,
              key: selection.alias?.value ?? field.name,
              typename: root.name,
            },
            schema,
            fragments,
            rootValue: undefined,
            operation,
            variableValues: variables,
          } as GraphQLResolveInfo;
          let args: Record<string, unknown>;
          try {
            args = getArgumentValues(field, selection, variables);
          } catch {
            continue; // a bad argument: execution refuses it as BAD_USER_INPUT, before it runs
          }
          verdicts.push({
            verdict: evaluate(rule, undefined, args, ctx, info),
            node: selection,
            key: info.path.key as string,
          });
        }
      }
    };
    visit(operation.selectionSet);
    // The refusal as the field itself would have answered it: at its path, with its location.
    const first = (values: (boolean | Error)[]) => {
      const at = values.findIndex((v) => v !== true);
      if (at === -1) return null;
      const refused = values[at]!;
      const error = refused instanceof Error ? refused : options.fallbackError(ctx);
      return locatedError(error, [verdicts[at]!.node], [verdicts[at]!.key]);
    };
    const values = verdicts.map((v) => v.verdict);
    return values.some((v) => v instanceof Promise)
      ? Promise.all(values).then(first)
      : first(values as (boolean | Error)[]);
  };
}
