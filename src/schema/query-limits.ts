import {
  Kind,
  OperationTypeNode,
  parse,
  type ArgumentNode,
  type DirectiveNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { MAX_UNKNOWN_FIELDS, unknownFields } from './unknown-fields';

/*
 * The caps of the pre-validation check, beside the configured QUERY_MAX_TOKENS, _DEPTH and
 * _ALIASES. Each was chosen by measuring graphql 16.15 parse + validate on the app's schema (the
 * 2-core CI machine), against the heaviest real operation the tests send: 25 aliased createTask
 * mutations with a variable each (730 tokens, 25 lines), 1.7 ms. The real operations need at
 * most 1 operation, 3 fragments, 489 selections (the standard introspection query), 1 repeat,
 * 0 comparisons, 0 directives, 25 variables, 25 literal values, 108 lines and 3.7 KB.
 * `npm run bench:hostile` measures what each hostile document costs the server.
 */

/** Characters, checked before parsing: 32 KiB, 9x the largest real document (the tests' largest accepted one is 15.5 KB). */
export const MAX_DOCUMENT_LENGTH = 32_768;
/**
 * Line breaks, checked before parsing. graphql-js locates each validation error by scanning every
 * line before it (55 ns a line): 100 errors after 30,000 lines took 117 ms, after 1,000 lines
 * 6 ms more than on one line (0.6 ms with 10 errors). A printed 2,000-token document has ~1,000.
 */
export const MAX_LINES = 1_000;
/**
 * Operations. Validation spends 18 µs on each, the server 40 µs (250 operations, the most that fit
 * in 2,000 tokens, cost it 10 ms). Clients send one (GraphiQL its whole editor: a few).
 */
export const MAX_OPERATIONS = 20;
/** Fragment definitions: an unused one is a validation error; 50 unused cost 1.3x the heaviest real operation, 100 cost 2.1x. */
export const MAX_FRAGMENTS = 50;
/**
 * Selections over the document once fragments are expanded at every spread, each definition
 * counted once: bounds operations x fragments (each operation's fragments are walked again for
 * its variables) and execution. At 2,500, chains of spreads validate in under 1 ms; 621
 * one-field operations make 1,252.
 */
export const MAX_SELECTIONS = 2_500;
/** How often one response name may be selected in one selection set, spreads included (OverlappingFieldsCanBeMerged compares every pair). */
export const MAX_REPEATS = 20;
/**
 * Comparisons OverlappingFieldsCanBeMerged may make: pairs of same-named selections, each pair
 * costing its sub-selections' pairs. 1,900 take 1 ms (0.5x); 20 `me` of 5 `tasks` each (15,040)
 * took 6.7 ms (3.5x) under the repeat cap.
 */
export const MAX_COMPARISONS = 2_000;
/** Directives anywhere: 50 cost 0.8 ms, or 1.8 ms as 49 duplicate `@skip`s (one error each). */
export const MAX_DIRECTIVES = 50;
/** Variable definitions over all operations: 50 unused (one error each) cost 1.6 ms. */
export const MAX_VARIABLES = 50;
/** Nodes of argument and default-value literals (and variable references): 250 in input objects cost up to 1.5x; large input belongs in variables. */
export const MAX_VALUES = 250;
/** Selection sets one inside another, fragments entered: keeps the walk's recursion shallow (128 nested inline fragments validate in 1 ms). */
export const MAX_NESTING = 128;
/** Accepted documents remembered (at most ~8 MB of sources), and the longest one remembered. */
const CACHE_ENTRIES = 1_000;
const CACHE_MAX_LENGTH = 8_192;

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

function tooComplexRefusal(
  limit: string,
  message: string,
  measured: Record<string, unknown>,
): DocumentRefusal {
  return { message, extensions: { code: 'QUERY_TOO_COMPLEX', limit, ...measured } };
}

/** The selections of one response name at one level: how many, and what comparing two costs. */
interface Named {
  count: number;
  /**
   * graphql-js's OverlappingFieldsCanBeMerged steps to compare two of them: one, plus comparing
   * their sub-selections pair by pair (the most expensive one's, as an upper bound).
   */
  pairCost: number;
}

/** What one selection set amounts to once its fragments are expanded. */
interface Measure {
  /** Levels of selection sets below this one, outside introspection and inside it. */
  depth: number;
  introspectionDepth: number;
  /** Aliases, fragments counted at every spread. */
  aliases: number;
  /** Fields, inline fragments and spreads, fragments expanded at every spread. */
  selections: number;
  /** Each response name selected at this level, inline fragments and spreads flattened in. */
  names: Map<string, Named>;
  /** Steps to compare this set with one of the same shape: Σ count² × pairCost. */
  crossCost: number;
}

/** Keeps costs finite: past this a document is refused whatever the exact figure. */
const SATURATED = Number.MAX_SAFE_INTEGER;

/**
 * One pass over a parsed document that measures what graphql-js validation (and execution) is
 * superlinear in. Each fragment definition is walked once and its measure reused at every
 * spread. Merging a fragment's response names into the spreading set costs at most its expanded
 * size, which `selections` counts first; merging stops once `selections` is over its cap (the
 * document is refused then anyway), so the walk is linear in the document.
 */
class DocumentWalk {
  private readonly fragments = new Map<string, FragmentDefinitionNode>();
  private readonly measured = new Map<FragmentDefinitionNode, Measure>();
  private readonly entered = new Set<FragmentDefinitionNode>();
  private nesting = 0;
  /** Over the whole document: each definition's selections, fragments expanded at each spread. */
  selections = 0;
  /** Over the whole document: steps to check that same-named fields can merge. */
  comparisons = 0;
  directives = 0;
  values = 0;
  tooDeep = false;
  /** Whether repeats and comparisons are exact: no merge was skipped. */
  exact = true;
  worstRepeat = { name: '', count: 0 };
  cycle: string | null = null;

  constructor(doc: DocumentNode) {
    for (const def of doc.definitions) {
      // graphql-js reports a duplicate name; spreads here use the first definition.
      if (def.kind === Kind.FRAGMENT_DEFINITION && !this.fragments.has(def.name.value)) {
        this.fragments.set(def.name.value, def);
      }
    }
  }

  directivesOf(directives: readonly DirectiveNode[] | undefined): void {
    if (!directives) return;
    this.directives += directives.length;
    for (const directive of directives) this.argumentsOf(directive.arguments);
  }

  private argumentsOf(args: readonly ArgumentNode[] | undefined): void {
    if (args) for (const arg of args) this.value(arg.value);
  }

  /** Counts a literal's nodes without recursion: literals nest as deep as the tokens allow. */
  value(root: ValueNode): void {
    const pending: ValueNode[] = [root];
    while (pending.length > 0) {
      const value = pending.pop()!;
      this.values += 1;
      if (value.kind === Kind.LIST) pending.push(...value.values);
      else if (value.kind === Kind.OBJECT) {
        for (const field of value.fields) pending.push(field.value);
      }
    }
  }

  /** A fragment's measure, walked on first use; null inside a cycle. */
  fragment(def: FragmentDefinitionNode): Measure | null {
    const known = this.measured.get(def);
    if (known) return known;
    if (this.entered.has(def)) {
      this.cycle ??= def.name.value;
      return null;
    }
    this.entered.add(def);
    this.directivesOf(def.directives);
    const measure = this.set(def.selectionSet);
    this.measured.set(def, measure);
    // graphql-js checks a fragment's own selection set once, wherever it is spread.
    this.level(measure);
    return measure;
  }

  /**
   * Accounts for one response level (an operation's, a fragment's or a field's selection set;
   * an inline fragment's is part of its parent's): its most repeated name, and the pairs of
   * same-named selections that validation compares.
   */
  level(measure: Measure): void {
    for (const [name, { count, pairCost }] of measure.names) {
      if (count > this.worstRepeat.count) this.worstRepeat = { name, count };
      if (count > 1) {
        this.comparisons = Math.min(
          SATURATED,
          this.comparisons + ((count * (count - 1)) / 2) * pairCost,
        );
      }
    }
  }

  set(set: SelectionSetNode): Measure {
    const result: Measure = {
      depth: 0,
      introspectionDepth: 0,
      aliases: 0,
      selections: 0,
      names: new Map(),
      crossCost: 0,
    };
    if (this.nesting >= MAX_NESTING) {
      this.tooDeep = true;
      return result;
    }
    this.nesting += 1;
    for (const selection of set.selections) {
      this.directivesOf(selection.directives);
      let inner: Measure | null;
      if (selection.kind === Kind.FIELD) {
        this.argumentsOf(selection.arguments);
        this.selections += 1;
        result.selections += 1;
        if (selection.alias) result.aliases += 1;
        let pairCost = 1;
        if (selection.selectionSet) {
          const child = this.set(selection.selectionSet);
          this.level(child);
          const field = selection.name.value;
          const entersIntrospection = field === '__schema' || field === '__type';
          result.depth = Math.max(
            result.depth,
            (entersIntrospection ? child.introspectionDepth : child.depth) + 1,
          );
          // In introspection `ofType` unwraps a list or non-null type: a single object, no
          // fan-out. The standard introspection query (GraphiQL, codegen) nests it nine deep.
          result.introspectionDepth = Math.max(
            result.introspectionDepth,
            child.introspectionDepth + (field === 'ofType' ? 0 : 1),
          );
          result.aliases += child.aliases;
          result.selections += child.selections;
          pairCost += child.crossCost;
        }
        this.add(result.names, selection.alias?.value ?? selection.name.value, 1, pairCost);
        continue;
      }
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        this.selections += 1;
        inner = this.set(selection.selectionSet);
      } else {
        const def = this.fragments.get(selection.name.value);
        // An unknown fragment is graphql-js's to report.
        inner = def ? this.fragment(def) : null;
        this.selections += 1 + (inner?.selections ?? 0);
      }
      result.selections += 1;
      if (!inner) continue;
      // A fragment's fields are selected at the level it is spread into: no level of its own.
      result.depth = Math.max(result.depth, inner.depth);
      result.introspectionDepth = Math.max(result.introspectionDepth, inner.introspectionDepth);
      result.aliases += inner.aliases;
      result.selections += inner.selections;
      if (this.selections > MAX_SELECTIONS) {
        this.exact = false;
        continue;
      }
      for (const [name, named] of inner.names) {
        this.add(result.names, name, named.count, named.pairCost);
      }
    }
    for (const { count, pairCost } of result.names.values()) {
      result.crossCost = Math.min(SATURATED, result.crossCost + count * count * pairCost);
    }
    this.nesting -= 1;
    return result;
  }

  private add(names: Map<string, Named>, name: string, count: number, pairCost: number): void {
    const named = names.get(name);
    if (named) {
      named.count += count;
      named.pairCost = Math.max(named.pairCost, pairCost);
    } else {
      names.set(name, { count, pairCost });
    }
  }
}

/** The operation a request runs: the one `operationName` names, or the only one. */
function selectedOperation(
  doc: DocumentNode,
  operationName: unknown,
): OperationDefinitionNode | undefined {
  const operations = doc.definitions.filter(
    (def): def is OperationDefinitionNode => def.kind === Kind.OPERATION_DEFINITION,
  );
  if (typeof operationName === 'string') {
    return operations.find((op) => op.name?.value === operationName);
  }
  return operationName == null && operations.length === 1 ? operations[0] : undefined;
}

/** The schema's roots: no Subscription until streaming ships (see the contract). */
const SERVED_OPERATIONS: ReadonlySet<OperationTypeNode> = new Set([
  OperationTypeNode.QUERY,
  OperationTypeNode.MUTATION,
]);

/** What the pre-validation check measures of a document. */
export interface DocumentMeasures {
  operations: number;
  fragments: number;
  /** Of the deepest operation, as QUERY_MAX_DEPTH counts it. */
  depth: number;
  /** Of the operation with the most. */
  aliases: number;
  selections: number;
  /** Steps graphql-js may take to check that same-named fields merge (an upper bound). */
  comparisons: number;
  /** The most repeated response name in one selection set; a lower bound unless `exact`. */
  repeats: { name: string; count: number; exact: boolean };
  directives: number;
  variables: number;
  values: number;
  /** Whether selection sets nest deeper than MAX_NESTING (the walk stopped there). */
  tooDeep: boolean;
  /** A fragment spread within itself, if any. */
  cycle: string | null;
  /** Whether an operation is of a type the schema has no root for. */
  unserved: boolean;
}

/** Measures a parsed document in one walk, linear in its size. */
export function measureDocument(doc: DocumentNode): DocumentMeasures {
  const walk = new DocumentWalk(doc);
  const measures: DocumentMeasures = {
    operations: 0,
    fragments: 0,
    depth: 0,
    aliases: 0,
    selections: 0,
    comparisons: 0,
    repeats: { name: '', count: 0, exact: true },
    directives: 0,
    variables: 0,
    values: 0,
    tooDeep: false,
    cycle: null,
    unserved: false,
  };
  for (const def of doc.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) {
      measures.fragments += 1;
      // Unused fragments are validated too.
      walk.fragment(def);
    } else if (def.kind === Kind.OPERATION_DEFINITION) {
      measures.operations += 1;
      if (!SERVED_OPERATIONS.has(def.operation)) measures.unserved = true;
      walk.directivesOf(def.directives);
      for (const variable of def.variableDefinitions ?? []) {
        measures.variables += 1;
        walk.directivesOf(variable.directives);
        if (variable.defaultValue) walk.value(variable.defaultValue);
      }
      const measure = walk.set(def.selectionSet);
      walk.level(measure);
      measures.depth = Math.max(measures.depth, measure.depth + 1);
      measures.aliases = Math.max(measures.aliases, measure.aliases);
    }
  }
  measures.selections = walk.selections;
  measures.comparisons = walk.comparisons;
  measures.repeats = { ...walk.worstRepeat, exact: walk.exact };
  measures.directives = walk.directives;
  measures.values = walk.values;
  measures.tooDeep = walk.tooDeep;
  measures.cycle = walk.cycle;
  return measures;
}

/** The first limit a document's measures are over, in the order a client can best act on. */
function refusalOf(
  m: DocumentMeasures,
  doc: DocumentNode,
  operationName: unknown,
  limits: DocumentLimits,
): DocumentRefusal | null {
  if (m.operations > MAX_OPERATIONS) {
    return tooComplexRefusal(
      'operations',
      `The document holds ${m.operations} operations (at most ${MAX_OPERATIONS})`,
      { operations: m.operations, maxOperations: MAX_OPERATIONS },
    );
  }
  if (m.fragments > MAX_FRAGMENTS) {
    return tooComplexRefusal(
      'fragments',
      `The document defines ${m.fragments} fragments (at most ${MAX_FRAGMENTS})`,
      { fragments: m.fragments, maxFragments: MAX_FRAGMENTS },
    );
  }
  if (m.tooDeep) {
    return tooComplexRefusal(
      'nesting',
      `The document nests selections more than ${MAX_NESTING} levels deep`,
      { maxNesting: MAX_NESTING },
    );
  }
  if (m.cycle !== null) {
    // Invalid whatever else it holds, and costly: graphql-js compares the fragments of a cycle
    // through 50 of them for 7 ms (200: 76 ms) before its own cycle rule refuses it.
    return {
      message: `Cannot spread fragment "${m.cycle}" within itself`,
      extensions: { code: 'BAD_USER_INPUT', fields: [] },
    };
  }
  if (m.depth > limits.maxDepth) {
    return tooComplexRefusal(
      'depth',
      `Query depth ${m.depth} is over the limit of ${limits.maxDepth}`,
      { depth: m.depth, maxDepth: limits.maxDepth },
    );
  }
  if (m.aliases > limits.maxAliases) {
    return tooComplexRefusal(
      'aliases',
      `${m.aliases} aliases is over the limit of ${limits.maxAliases}`,
      { aliases: m.aliases, maxAliases: limits.maxAliases },
    );
  }
  // Past the selections cap some spreads were not merged: that limit speaks instead.
  if (m.repeats.exact && m.repeats.count > MAX_REPEATS) {
    return tooComplexRefusal(
      'repeats',
      `${m.repeats.name} is selected ${m.repeats.count} times in one selection set (at most ${MAX_REPEATS})`,
      { field: m.repeats.name, repeats: m.repeats.count, maxRepeats: MAX_REPEATS },
    );
  }
  if (m.selections > MAX_SELECTIONS) {
    return tooComplexRefusal(
      'selections',
      `The document makes ${m.selections} selections once its fragments are expanded (at most ${MAX_SELECTIONS})`,
      { selections: m.selections, maxSelections: MAX_SELECTIONS },
    );
  }
  if (m.comparisons > MAX_COMPARISONS) {
    return tooComplexRefusal(
      'comparisons',
      `Checking that the document's same-named fields merge would take ${m.comparisons} comparisons (at most ${MAX_COMPARISONS})`,
      { comparisons: m.comparisons, maxComparisons: MAX_COMPARISONS },
    );
  }
  if (m.directives > MAX_DIRECTIVES) {
    return tooComplexRefusal(
      'directives',
      `The document uses ${m.directives} directives (at most ${MAX_DIRECTIVES})`,
      { directives: m.directives, maxDirectives: MAX_DIRECTIVES },
    );
  }
  if (m.variables > MAX_VARIABLES) {
    return tooComplexRefusal(
      'variables',
      `The document defines ${m.variables} variables (at most ${MAX_VARIABLES})`,
      { variables: m.variables, maxVariables: MAX_VARIABLES },
    );
  }
  if (m.values > MAX_VALUES) {
    return tooComplexRefusal(
      'values',
      `The document's literals hold ${m.values} values (at most ${MAX_VALUES}); send large input in variables`,
      { values: m.values, maxValues: MAX_VALUES },
    );
  }
  const selected = selectedOperation(doc, operationName);
  if (selected && !SERVED_OPERATIONS.has(selected.operation)) {
    // Execution would throw (no Subscription root): a client error, said plainly.
    return {
      message: `This server serves queries and mutations, not ${selected.operation}s`,
      extensions: { code: 'BAD_USER_INPUT', fields: [] },
    };
  }
  return null;
}

/** Line terminators as GraphQL counts them (CRLF is one). */
function lineBreaks(source: string): number {
  let lines = 0;
  for (let i = 0; i < source.length; i += 1) {
    const c = source.charCodeAt(i);
    if (c === 10) lines += 1;
    else if (c === 13) {
      lines += 1;
      if (source.charCodeAt(i + 1) === 10) i += 1;
    }
  }
  return lines;
}

/**
 * Sources accepted under one set of limits, least recently used dropped first: the same few
 * documents arrive thousands of times a second, and a known one costs one lookup. Two
 * generations (as quick-lru keeps them): a hit in the older one moves the source to the newer,
 * and a full newer generation replaces the older, so a hit never reorders a table (moving an
 * entry to the end of a 1,000-entry Set on every hit cost 1.7 µs once entries had churned).
 */
class AcceptedSources {
  private recent = new Set<string>();
  private older = new Set<string>();

  has(source: string): boolean {
    if (this.recent.has(source)) return true;
    if (!this.older.delete(source)) return false;
    this.add(source);
    return true;
  }

  add(source: string): void {
    this.recent.add(source);
    if (this.recent.size >= CACHE_ENTRIES / 2) {
      this.older = this.recent;
      this.recent = new Set();
    }
  }
}

const acceptedByLimits = new Map<string, AcceptedSources>();

function acceptedUnder(limits: DocumentLimits): AcceptedSources {
  const key = `${limits.maxTokens}:${limits.maxDepth}:${limits.maxAliases}`;
  let accepted = acceptedByLimits.get(key);
  if (!accepted) {
    accepted = new AcceptedSources();
    acceptedByLimits.set(key, accepted);
  }
  return accepted;
}

/** BAD_USER_INPUT for a document with more than MAX_UNKNOWN_FIELDS fields the schema lacks. */
function unknownFieldsRefusal(schema: GraphQLSchema, doc: DocumentNode): DocumentRefusal | null {
  const { count, first } = unknownFields(schema, doc);
  if (count <= MAX_UNKNOWN_FIELDS || !first) return null;
  return {
    message: `Cannot query field "${first.field}" on type "${first.type}", and more than ${MAX_UNKNOWN_FIELDS} fields the schema does not have`,
    extensions: { code: 'BAD_USER_INPUT', unknownFields: `>${MAX_UNKNOWN_FIELDS}` },
  };
}

/**
 * The refusal for a document that must not reach validation (or execution), or null. Runs on
 * every request before Apollo parses and validates (its plugin hooks cannot refuse a request
 * before validation with a client error): one parse and one linear walk bound everything
 * validation is superlinear in. A document that does not parse is left to Apollo to refuse.
 */
export function preValidationRefusal(
  source: unknown,
  operationName: unknown,
  limits: DocumentLimits,
  schema?: GraphQLSchema,
): DocumentRefusal | null {
  if (typeof source !== 'string') return null;
  const accepted = source.length <= CACHE_MAX_LENGTH ? acceptedUnder(limits) : null;
  if (accepted?.has(source)) return null;
  if (source.length > MAX_DOCUMENT_LENGTH) {
    return tooComplexRefusal(
      'length',
      `The document is ${source.length} characters long (at most ${MAX_DOCUMENT_LENGTH}); send large input in variables`,
      { length: source.length, maxLength: MAX_DOCUMENT_LENGTH },
    );
  }
  const lines = lineBreaks(source);
  if (lines > MAX_LINES) {
    return tooComplexRefusal('lines', `The document has ${lines} lines (at most ${MAX_LINES})`, {
      lines,
      maxLines: MAX_LINES,
    });
  }
  let doc: DocumentNode;
  try {
    doc = parse(source, { maxTokens: limits.maxTokens, noLocation: true });
  } catch {
    return null;
  }
  const measures = measureDocument(doc);
  const refusal =
    refusalOf(measures, doc, operationName, limits) ??
    (schema ? unknownFieldsRefusal(schema, doc) : null);
  // With an unserved operation in it, the verdict depends on operationName.
  if (!refusal && !measures.unserved) accepted?.add(source);
  return refusal;
}
