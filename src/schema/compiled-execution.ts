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
  isScalarType,
  isSpecifiedScalarType,
  Kind,
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
 * GraphQL execution by graphql-js, or by graphql-jit for a document that has run before: it
 * compiles an operation's selection to one JavaScript function (no per-field argument maps,
 * no per-field promise for a synchronous value, plain result objects). Both run the same
 * resolvers of the same guarded schema, so what a field answers and who may read it do not
 * depend on which one runs it.
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
    const result = compileQuery(schema, document, key || undefined, {
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

  const executor: GatewayExecutor = async (requestContext: GatewayGraphQLRequestContext) => {
    const { document, operation, context } = requestContext;
    const variables = requestContext.request.variables;
    const interpret = () =>
      execute({
        schema,
        document,
        contextValue: context,
        variableValues: variables,
        operationName: requestContext.request.operationName,
      }) as Promise<ExecutionResult>;
    // No operation resolved (Apollo then reports graphql-js's own words): graphql-js answers.
    if (!operation) return interpret();
    const compiled = compiledFor(document, operation);
    if (!compiled) return interpret();
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

function containsVariable(value: ValueNode): boolean {
  let found = false;
  visit(value, {
    Variable() {
      found = true;
      return BREAK;
    },
  });
  return found;
}

/**
 * Whether graphql-jit runs `operation` exactly as graphql-js would. It does not when a custom
 * scalar's literal holds a variable inside it (`input: { text: $text }` for a JSON argument):
 * graphql-jit reads such a literal before it knows the variables, and the variable is lost.
 * Such documents are interpreted.
 */
function compilable(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): boolean {
  const typeInfo = new TypeInfo(schema);
  let ok = true;
  const check = (node: ASTNode & { value: ValueNode }) => {
    const type = getNamedType(typeInfo.getInputType());
    if (
      isScalarType(type) &&
      !isSpecifiedScalarType(type) &&
      node.value.kind !== Kind.VARIABLE &&
      containsVariable(node.value)
    ) {
      ok = false;
      return BREAK;
    }
    return undefined;
  };
  // The operation and every fragment (a fragment's arguments run wherever it is spread).
  const definitions = document.definitions.filter(
    (d) => d === operation || d.kind === Kind.FRAGMENT_DEFINITION,
  );
  for (const definition of definitions) {
    visit(definition, visitWithTypeInfo(typeInfo, { Argument: check, ObjectField: check }));
    if (!ok) return false;
  }
  return true;
}
