import { HeaderMap, type HTTPGraphQLHead, type HTTPGraphQLResponse } from '@apollo/server';
import type {
  GatewayExecutor,
  GatewayGraphQLRequestContext,
} from '@apollo/server-gateway-interface';
import {
  getOperationAST,
  GraphQLError,
  Kind,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLFormattedError,
  type OperationDefinitionNode,
} from 'graphql';
import type { Context } from '../context';
import type { RequestListener, RequestPlugin } from './request-plugins';

/** Documents longer than this are never learned (the hot pages are a few hundred characters). */
const MAX_LEARNED_LENGTH = 8_000;
/**
 * The most documents known at once, and their most characters in all (a parsed document takes
 * about 25 times its text's size): past either, the longest unused ones are forgotten.
 */
const MAX_LEARNED = 500;
const MAX_LEARNED_CHARS = 400_000;
/** The most Accept header values whose content type is known. */
const MAX_ACCEPTS = 64;
const JSON_CONTENT_TYPE = /^application\/json\s*(?:;|$)/i;
const APPLICATION_JSON = 'application/json; charset=utf-8';

/** The parts of a Fastify request the lane reads. */
export interface LaneRequest {
  method: string;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

export interface KnownDocumentsOptions {
  /** The gateway executor Apollo runs (compiled or interpreted execution). */
  executor: GatewayExecutor;
  /** The server's request plugins, run as Apollo runs them (./request-plugins.ts). */
  listenerFor: (rc: never) => RequestListener<Context>;
  /** Apollo's formatError and stringifyResult, as configured. */
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  stringifyResult: (value: unknown) => string;
  /** Counts the requests the lane answered. */
  onAnswer?: () => void;
}

/**
 * The known-document lane: a POST whose document Apollo has already parsed and validated (the
 * same text, byte for byte) runs here without Apollo's per-request pipeline (the document's
 * SHA-256, MIME parsing and content negotiation, ten awaited plugin phases). What runs is what
 * Apollo would run: the same context, the same request plugins in the same phases (session
 * check, query cost, telemetry, error log, 503 status), the same executor, and Apollo's own
 * steps for what it answers: BAD_USER_INPUT for a variable that does not coerce (400 when there
 * is no data), errors normalized and formatted as Apollo does (code INTERNAL_SERVER_ERROR when
 * none, `extensions.http` moved to the response's status and headers, 500 for a request that
 * failed before execution), `errors`, `data`, `extensions` in that order, and the content type
 * Apollo chose for the same Accept header. Anything else (a GET, a batch, `extensions`, an
 * operation that does not resolve, an Accept header Apollo has not answered yet, a document not
 * seen whole and valid) goes through Apollo, which is also how documents become known. A
 * context that fails is handed to Apollo to answer, as it answers one. A hook that throws, in
 * any phase, leads to what it leads to in Apollo (processGraphQLRequest's own try blocks are
 * kept), and the response is what the hooks leave. Held to Apollo's own answers request by
 * request in test/server/known-documents.test.ts and, for plugins that misbehave,
 * test/server/known-documents-hooks.test.ts.
 */
export class KnownDocuments {
  private readonly documents = new Map<string, DocumentNode>();
  private learnedChars = 0;
  private readonly contentTypes = new Map<string, string>();

  constructor(private readonly options: KnownDocumentsOptions) {}

  /** The request plugin that teaches the lane each document Apollo validated. */
  learner(): RequestPlugin<Context> {
    return {
      requestDidStart: () => ({
        didResolveOperation: ({ source, document }) => {
          if (source.length > MAX_LEARNED_LENGTH || this.documents.has(source)) return;
          while (
            this.documents.size >= MAX_LEARNED ||
            this.learnedChars + source.length > MAX_LEARNED_CHARS
          ) {
            const oldest: string = this.documents.keys().next().value!;
            this.documents.delete(oldest);
            this.learnedChars -= oldest.length;
          }
          this.documents.set(source, document);
          this.learnedChars += source.length;
        },
      }),
    };
  }

  /** Records the content type Apollo answered a single result with for an Accept header. */
  learnContentType(accept: string | undefined, response: HTTPGraphQLResponse): void {
    if (accept === undefined || this.contentTypes.has(accept)) return;
    if ((response.status ?? 200) !== 200 || response.body.kind !== 'complete') return;
    const type = response.headers.get('content-type');
    if (type === undefined) return;
    if (this.contentTypes.size >= MAX_ACCEPTS) {
      this.contentTypes.delete(this.contentTypes.keys().next().value!);
    }
    this.contentTypes.set(accept, type);
  }

  /**
   * The lane's answer to `request`, or null when Apollo answers it. `context` makes the
   * request's context; `apollo` answers a request whose context failed, with that failure.
   */
  answer(
    request: LaneRequest,
    context: () => Promise<Context>,
    apollo: (context: () => Promise<Context>) => Promise<HTTPGraphQLResponse>,
  ): Promise<HTTPGraphQLResponse> | null {
    if (request.method !== 'POST') return null;
    const body = request.body;
    if (!isRecord(body)) return null;
    const { query, operationName, variables } = body;
    if (typeof query !== 'string') return null;
    if (body.extensions != null) return null;
    if (operationName != null && typeof operationName !== 'string') return null;
    if (variables != null && !isRecord(variables)) return null;
    const type = request.headers['content-type'];
    if (typeof type !== 'string' || !JSON_CONTENT_TYPE.test(type)) return null;
    const accept = request.headers.accept;
    if (Array.isArray(accept)) return null;
    const contentType = accept ? this.contentTypes.get(accept) : APPLICATION_JSON;
    if (contentType === undefined) return null;
    const document = this.documents.get(query);
    if (document === undefined) return null;
    const operation = getOperationAST(document, operationName ?? undefined);
    if (!operation) return null;
    // Most recently used: to the end.
    this.documents.delete(query);
    this.documents.set(query, document);
    return this.run(
      {
        query,
        operationName: operationName ?? undefined,
        variables: (variables ?? undefined) as Record<string, unknown> | undefined,
      },
      document,
      operation,
      contentType,
      context,
      apollo,
    );
  }

  private async run(
    request: { query: string; operationName?: string; variables?: Record<string, unknown> },
    document: DocumentNode,
    operation: OperationDefinitionNode,
    contentType: string,
    context: () => Promise<Context>,
    apollo: (context: () => Promise<Context>) => Promise<HTTPGraphQLResponse>,
  ): Promise<HTTPGraphQLResponse> {
    let contextValue: Context;
    try {
      contextValue = await context();
    } catch (err) {
      return apollo(() => Promise.reject(err));
    }
    this.options.onAnswer?.();
    const { formatError, stringifyResult } = this.options;
    const http: HTTPGraphQLHead = { status: undefined, headers: new HeaderMap() };
    // Apollo's request context, with what this server's plugins and executor read of it.
    const rc = {
      request,
      response: { http, body: undefined as SingleBody | undefined },
      contextValue,
      source: request.query,
      document,
      operation,
      operationName: operation.name?.value ?? null,
      errors: undefined as readonly GraphQLError[] | undefined,
      metrics: {},
      requestIsBatched: false,
    };
    // Each phase as Apollo runs it (processGraphQLRequest), in its order; a phase whose hooks
    // all answered at once is not awaited (no promise, no tick).
    let listener: RequestListener<Context> = {};
    const phase = (name: keyof RequestListener<Context>) => listener[name]?.(rc as never);
    const willSendResponse = async (): Promise<HTTPGraphQLResponse> => {
      const sending = phase('willSendResponse');
      if (sending) await sending;
      // What the hooks left (one may have replaced the body), as runHttpQuery sends it.
      const result = rc.response.body!.singleResult;
      if (!http.headers.get('content-type')) http.headers.set('content-type', contentType);
      return {
        ...http,
        body: {
          kind: 'complete',
          string: stringifyResult({
            errors: result.errors,
            data: result.data,
            extensions: result.extensions,
          }),
        },
      };
    };
    // Apollo's sendErrorResponse: a request that failed before or in execution.
    const sendErrors = async (errors: readonly GraphQLError[]) => {
      rc.errors = errors;
      await phase('didEncounterErrors');
      const { formatted, head } = normalizeAndFormat(errors, formatError);
      rc.response.body = { kind: 'single', singleResult: { errors: formatted } };
      mergeHead(http, head);
      if (!http.status) http.status = 500;
      return willSendResponse();
    };
    try {
      listener = this.options.listenerFor(rc as never);
      try {
        const resolved = phase('didResolveOperation');
        if (resolved) await resolved;
      } catch (err) {
        return await sendErrors([asGraphQLError(err)]);
      }
      try {
        const result: ExecutionResult = await this.options.executor({
          request,
          document,
          operation,
          operationName: rc.operationName,
          context: contextValue,
          source: request.query,
        } as unknown as GatewayGraphQLRequestContext);
        const errors = result.errors?.map((e) =>
          isBadUserInput(e) && e.extensions?.code == null ? userInputError(e) : e,
        );
        let formatted: GraphQLFormattedError[] | undefined;
        if (errors) {
          rc.errors = errors;
          const encountered = phase('didEncounterErrors');
          if (encountered) await encountered;
          const normalized = normalizeAndFormat(errors, formatError);
          formatted = normalized.formatted;
          // Apollo 5: a variable that does not coerce (no data at all) is HTTP 400.
          if (errors.length && result.data === undefined && !normalized.head.status) {
            normalized.head.status = 400;
          }
          mergeHead(http, normalized.head);
        }
        rc.response.body = { kind: 'single', singleResult: { ...result, errors: formatted } };
      } catch (err) {
        // As Apollo: an executor that threw, or a hook that threw over its errors.
        return await sendErrors([asGraphQLError(err)]);
      }
      return await willSendResponse();
    } catch (err) {
      // What Apollo answers when its pipeline itself throws (a plugin's willSendResponse).
      contextValue.logger?.error({ err }, 'Unexpected error processing request');
      const { formatted, head } = normalizeAndFormat(
        [
          new GraphQLError('Internal server error', {
            originalError: new Error('Internal server error'),
          }),
        ],
        formatError,
      );
      return {
        status: head.status ?? 500,
        headers: new HeaderMap([...head.headers, ['content-type', contentType]]),
        body: { kind: 'complete', string: stringifyResult({ errors: formatted }) },
      };
    }
  }
}

/** A single result, as Apollo's response body holds it. */
interface SingleBody {
  kind: 'single';
  singleResult: {
    errors?: readonly GraphQLFormattedError[];
    data?: unknown;
    extensions?: Record<string, unknown>;
  };
}

/** A JSON object, as Apollo tells a record from other values (isStringRecord). */
function isRecord(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value) && !Buffer.isBuffer(value);
}

function mergeHead(target: HTTPGraphQLHead, source: Partial<HTTPGraphQLHead>) {
  if (source.status) target.status = source.status;
  if (source.headers) for (const [name, value] of source.headers) target.headers.set(name, value);
}

function asGraphQLError(err: unknown): GraphQLError {
  const error =
    err instanceof Error ? err : new GraphQLError(`Unexpected error value: ${String(err)}`);
  return error instanceof GraphQLError
    ? error
    : new GraphQLError(error.message, { originalError: error });
}

/** Apollo's normalizeAndFormatErrors, with includeStacktraceInErrorResponses off. */
function normalizeAndFormat(
  errors: readonly GraphQLError[],
  formatError: KnownDocumentsOptions['formatError'],
): { formatted: GraphQLFormattedError[]; head: HTTPGraphQLHead } {
  const head: HTTPGraphQLHead = { status: undefined, headers: new HeaderMap() };
  const enrich = (error: GraphQLError): GraphQLFormattedError => {
    const extensions: Record<string, unknown> = {
      ...error.extensions,
      code: error.extensions.code ?? 'INTERNAL_SERVER_ERROR',
    };
    const httpPart = extensions.http as Partial<HTTPGraphQLHead> | undefined;
    if (
      httpPart &&
      typeof httpPart === 'object' &&
      (!('status' in httpPart) || typeof httpPart.status === 'number') &&
      (!('headers' in httpPart) || httpPart.headers instanceof Map)
    ) {
      mergeHead(head, { headers: new HeaderMap(), ...httpPart });
      delete extensions.http;
    }
    return { ...error.toJSON(), extensions };
  };
  const formatted = errors.map((error) => {
    try {
      return formatError(enrich(error), error);
    } catch {
      return { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    }
  });
  return { formatted, head };
}

/** Apollo's test for a variable that does not coerce (requestPipeline's isBadUserInputGraphQLError). */
function isBadUserInput(error: GraphQLError): boolean {
  const node = error.nodes?.length === 1 ? error.nodes[0] : undefined;
  if (node?.kind !== Kind.VARIABLE_DEFINITION) return false;
  const name = node.variable.name.value;
  return (
    error.message.startsWith(`Variable "$${name}" has invalid value`) ||
    error.message.startsWith(`Variable "$${name}" got invalid value `) ||
    error.message.startsWith(`Variable "$${name}" of required type `) ||
    error.message.startsWith(`Variable "$${name}" of non-null type `)
  );
}

/** Apollo's UserInputError. */
function userInputError(error: GraphQLError): GraphQLError {
  const made = new GraphQLError(error.message, {
    nodes: error.nodes,
    originalError: error.originalError ?? error,
    extensions: { ...error.extensions, code: 'BAD_USER_INPUT' },
  });
  made.name = 'UserInputError';
  return made;
}
