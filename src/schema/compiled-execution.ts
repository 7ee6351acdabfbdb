import type {
  GatewayExecutor,
  GatewayGraphQLRequestContext,
  GatewayInterface,
} from '@apollo/server-gateway-interface';
import {
  BREAK,
  execute,
  getNamedType,
  getVariableValues,
  GraphQLError,
  isAbstractType,
  isScalarType,
  isSpecifiedScalarType,
  Kind,
  OperationTypeNode,
  typeFromAST,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type ASTNode,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ValueNode,
} from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { measureDocument } from './query-limits';

export interface CompiledExecutionOptions {
  /**
   * How many times a document runs on graphql-js's interpreter before it is compiled (0: at
   * once). A document sent once, as an attacker's unique documents are, never pays to compile.
   */
  compileAfter: number;
  /**
   * CPU time compiling may take: a bucket of `burstMs` that refills at `perSecondMs` a second.
   * Compiling a large document takes tens of ms; a client that sends many distinct documents
   * over and over gets them interpreted once the bucket is empty, never an unbounded share of
   * the CPU. Default: bursts of 250 ms, 50 ms a second (5% of a core).
   */
  budget?: { burstMs: number; perSecondMs: number };
  /** The most operations kept compiled; past it the longest unused one is dropped. */
  maxCompiled?: number;
  /** Called with each operation compiled. */
  onCompile?: () => void;
}

/** An operation graphql-jit does not run as graphql-js would (see `compilable`). */
const INTERPRETED = 'interpreted';

/** What is known of one parsed document: its runs so far, then its compiled operations. */
interface DocumentState {
  runs: number;
  operations: Map<string, CompiledQuery | typeof INTERPRETED>;
}

/**
 * GraphQL execution by graphql-js, or by graphql-jit for a query that has run before: it
 * compiles an operation's selection to one JavaScript function (no per-field argument maps,
 * no per-field promise for a synchronous value, plain result objects). Both run the same
 * resolvers of the same guarded schema, so what a field answers and who may read it do not
 * depend on which one runs it. Only operations graphql-jit runs exactly as graphql-js does,
 * and whose client-written text never reaches the code it generates, are compiled
 * (`compilable`: queries whose values all arrive as variables, without @skip/@include or
 * aliases it could confuse, of bounded size); everything else is interpreted.
 *
 * Apollo Server runs a custom executor through its gateway interface (the one Apollo Gateway
 * uses); parsing, validation, the plugins, error formatting and the response stay Apollo's.
 * What is known of a document is kept beside the parsed document, which Apollo's document
 * store keeps (an LRU keyed by the query's hash), and compiled operations are bounded in
 * number and in the CPU time spent making them (CompiledExecutionOptions).
 *
 * Variables are coerced by graphql-js first, so that an input error reads as it always has
 * (graphql-jit words a few differently and marks none with the variable's node, which is how
 * Apollo recognises BAD_USER_INPUT).
 */
export function compiledExecution(
  schema: GraphQLSchema,
  options: CompiledExecutionOptions,
): GatewayInterface {
  const documents = new WeakMap<DocumentNode, DocumentState>();
  const { burstMs, perSecondMs } = options.budget ?? { burstMs: 250, perSecondMs: 50 };
  const maxCompiled = options.maxCompiled ?? 1_000;
  let budgetMs = burstMs;
  let budgetAt = performance.now();
  /** Compiled operations, least recently used first. */
  const lru = new Map<CompiledQuery, { state: DocumentState; key: string }>();

  const compile = (
    state: DocumentState,
    key: string,
    document: DocumentNode,
    operation: OperationDefinitionNode,
  ): CompiledQuery | null => {
    const now = performance.now();
    budgetMs = Math.min(burstMs, budgetMs + ((now - budgetAt) / 1000) * perSecondMs);
    budgetAt = now;
    if (budgetMs <= 0) return null;
    if (!compilable(schema, document, operation)) {
      state.operations.set(key, INTERPRETED);
      return null;
    }
    const result = compileQuery(schema, copyOf(document), key || undefined, {
      // Nothing reads an error's stack from a response; capturing one costs ~10 µs an error.
      disablingCapturingStackErrors: true,
    });
    budgetMs -= performance.now() - now;
    // A document graphql-jit cannot compile (none that passes validation) is interpreted.
    if (!isCompiledQuery(result)) {
      state.operations.set(key, INTERPRETED);
      return null;
    }
    state.operations.set(key, result);
    lru.set(result, { state, key });
    if (lru.size > maxCompiled) {
      const [oldest, at] = lru.entries().next().value as [
        CompiledQuery,
        { state: DocumentState; key: string },
      ];
      lru.delete(oldest);
      at.state.operations.delete(at.key);
    }
    options.onCompile?.();
    return result;
  };

  const compiledFor = (document: DocumentNode, operation: OperationDefinitionNode) => {
    let state = documents.get(document);
    if (!state) documents.set(document, (state = { runs: 0, operations: new Map() }));
    if (state.runs < options.compileAfter) {
      state.runs += 1;
      return null;
    }
    const key = operation.name?.value ?? '';
    const known = state.operations.get(key);
    if (known === INTERPRETED) return null;
    if (known === undefined) return compile(state, key, document, operation);
    // Most recently used: to the end of the LRU.
    lru.delete(known);
    lru.set(known, { state, key });
    return known;
  };

  const interpreted = interpretedExecution(schema);
  const executor: GatewayExecutor = async (requestContext: GatewayGraphQLRequestContext) => {
    const { document, operation, context } = requestContext;
    const variables = requestContext.request.variables;
    // No operation resolved (Apollo then reports graphql-js's own words): graphql-js answers.
    if (!operation) return interpreted(requestContext);
    const compiled = compiledFor(document, operation);
    if (!compiled) return interpreted(requestContext);
    if (operation.variableDefinitions?.length) {
      const coerced = getVariableValues(schema, operation.variableDefinitions, variables ?? {}, {
        maxErrors: 50,
      });
      if (coerced.errors) return { errors: coerced.errors };
    }
    const result = await compiled.query(undefined, context, variables ?? {});
    return result.errors ? { ...result, errors: result.errors.map(asGraphQLJsError) } : result;
  };

  return {
    async load() {
      return { executor };
    },
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: '' });
      return () => undefined;
    },
    async stop() {},
  };
}

/** GraphQL execution by graphql-js's interpreter, as a gateway executor. */
export function interpretedExecution(schema: GraphQLSchema): GatewayExecutor {
  return (requestContext) =>
    execute({
      schema,
      document: requestContext.document,
      contextValue: requestContext.context,
      variableValues: requestContext.request.variables,
      operationName: requestContext.request.operationName,
    }) as Promise<ExecutionResult>;
}

/**
 * graphql-jit's own error class leaves `extensions` undefined on an error whose cause has none,
 * where graphql-js always sets an object (Apollo reads `extensions.code` of every error, and
 * would answer a bare INTERNAL_SERVER_ERROR without its path, or mask SERVICE_UNAVAILABLE):
 * each error is made again as graphql-js makes it, with the same message, place and cause.
 */
function asGraphQLJsError(error: GraphQLError): GraphQLError {
  const made = new GraphQLError(error.message, {
    path: error.path,
    originalError: error.originalError ?? undefined,
    extensions: error.extensions ?? undefined,
  });
  (made as { locations: GraphQLError['locations'] }).locations = error.locations;
  return made;
}

/**
 * The most selections a document may have, fragments expanded at every spread (as the query
 * limits measure them), and still be compiled.
 */
export const MAX_COMPILED_SELECTIONS = 300;

/** Aliases graphql-jit could confuse with one another (see `compilable`). */
const UNSAFE_ALIAS = /_|^idx/i;

/**
 * Whether graphql-jit may run `operation`: it must run it exactly as graphql-js would, and
 * nothing a client writes may reach the code it generates. graphql-jit writes literal values
 * into that code through JSON.stringify and then turns marked strings back into expressions
 * (`"__MAGIC_DATE__…<text>"` becomes `new Date(<text>)`): a string literal could become code,
 * so a document with any string literal is interpreted (clients send values as variables,
 * which never enter the code). The other shapes it runs differently are interpreted too:
 *
 * - mutations: after a failed mutation graphql-js runs none of the next ones; graphql-jit
 *   runs them all;
 * - `@skip`/`@include`: graphql-jit stores their conditions on the shared field nodes, and a
 *   fragment spread under different conditions loses fields;
 * - aliases (or field names) with `_` or starting with `idx`, and interfaces or unions:
 *   graphql-jit names each field's resolve info by its path joined with `_`, so two paths
 *   could share one (a resolver reading another field's selection), and `__proto__` would
 *   drop the field;
 * - a custom scalar's literal or default value (a JSON literal's keys would be written into the
 *   code, a variable inside one is lost, a DateTime default reaches resolvers as text), and a
 *   default on a required variable (graphql-jit ignores it);
 * - more than MAX_COMPILED_SELECTIONS selections once fragments are expanded: compiling costs
 *   CPU and memory by the expanded size.
 */
function compilable(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): boolean {
  if (operation.operation !== OperationTypeNode.QUERY) return false;
  if (measureDocument(document).selections > MAX_COMPILED_SELECTIONS) return false;
  const typeInfo = new TypeInfo(schema);
  let ok = true;
  const refuse = () => {
    ok = false;
    return BREAK;
  };
  const customScalar = () => {
    const type = getNamedType(typeInfo.getInputType());
    return isScalarType(type) && !isSpecifiedScalarType(type);
  };
  // graphql-jit writes a custom scalar's parsed literal (a JSON object's keys too) into its
  // code, and reads one holding a variable before the variables: only variables pass.
  const customLiteral = (node: ASTNode & { value: ValueNode }) =>
    customScalar() && node.value.kind !== Kind.VARIABLE ? refuse() : undefined;
  const visitor = visitWithTypeInfo(typeInfo, {
    StringValue: refuse,
    Directive: refuse,
    Field: (node) => {
      if (node.alias && UNSAFE_ALIAS.test(node.alias.value)) return refuse();
      // The same for field names (none in this schema; introspection's `__` ones cannot meet
      // an alias without `_`), and for interfaces and unions, whose paths none of this checks.
      if (!node.name.value.startsWith('__') && UNSAFE_ALIAS.test(node.name.value)) return refuse();
      const parent = typeInfo.getParentType();
      const type = getNamedType(typeInfo.getType());
      return (parent && isAbstractType(parent)) || (type && isAbstractType(type))
        ? refuse()
        : undefined;
    },
    VariableDefinition: (node) => {
      if (!node.defaultValue) return undefined;
      // graphql-jit ignores the default of a required variable (`$n: Int! = 20` sent without
      // $n fails), and writes a custom scalar's default into its code as text.
      const type = getNamedType(typeFromAST(schema, node.type));
      return node.type.kind === Kind.NON_NULL_TYPE ||
        (isScalarType(type) && !isSpecifiedScalarType(type))
        ? refuse()
        : undefined;
    },
    Argument: customLiteral,
    ObjectField: customLiteral,
  });
  // The operation and every fragment (a fragment's arguments run wherever it is spread).
  const definitions = document.definitions.filter(
    (d) => d === operation || d.kind === Kind.FRAGMENT_DEFINITION,
  );
  for (const definition of definitions) {
    visit(definition, visitor);
    if (!ok) return false;
  }
  return true;
}

/**
 * A copy of `document`'s nodes (their source locations shared) for graphql-jit to compile:
 * it writes its bookkeeping onto the field nodes, and the parsed document is Apollo's, shared
 * by every request that sends the same text.
 */
function copyOf<T>(node: T): T {
  if (Array.isArray(node)) return node.map(copyOf) as T;
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = key === 'loc' ? value : copyOf(value);
  return out as T;
}
