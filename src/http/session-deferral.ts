import type { RequestPlugin } from './request-plugins';
import type { FastifyRequest } from 'fastify';
import { Kind, parse, type OperationDefinitionNode } from 'graphql';
import { isUnverified, verifySessionNow } from '../auth/session-check';
import type { Context } from '../context';

/** Longer documents are never deferred (and never cached here): the hot pages are short. */
const MAX_DOCUMENT_LENGTH = 2_000;
const MAX_CACHED = 500;
/** Operation names remembered per document (a document names its operations; others miss). */
const MAX_NAMES = 16;
/** Longer operation names are answered without being remembered: they bound the cache's size. */
const MAX_NAME_LENGTH = 100;

/**
 * Verdicts by document, then operation name (null: none): a document string from the request is
 * hashed once to find its entry, with nothing built from it. Two generations, at most
 * MAX_CACHED documents in all: a document found in the older one moves to the recent one, and
 * when the recent one is full it becomes the older (the older is dropped), so the documents in
 * use stay without any work on a hit in the recent one.
 */
let recent = new Map<string, Map<string | null, boolean>>();
let older = new Map<string, Map<string | null, boolean>>();

function verdictsOf(query: string): Map<string | null, boolean> {
  const known = recent.get(query);
  if (known) return known;
  const byName = older.get(query) ?? new Map<string | null, boolean>();
  if (recent.size >= MAX_CACHED / 2) {
    older = recent;
    recent = new Map();
  }
  recent.set(query, byName);
  return byName;
}

/**
 * The GraphQL request as Apollo will read it: the parsed JSON body of a POST, or, for a GET, the
 * query string parsed exactly as http/graphql-handler.ts hands it to Apollo (URLSearchParams
 * over everything after the first `?`), never Fastify's own parse of it, which cuts at `#` and
 * keeps badly encoded values raw.
 */
function graphqlParams(
  request: FastifyRequest,
): { query?: unknown; operationName?: unknown } | null {
  if (request.method === 'GET') {
    const q = request.url.indexOf('?');
    if (q === -1) return null;
    const params = new URLSearchParams(request.url.slice(q));
    return { query: params.get('query'), operationName: params.get('operationName') };
  }
  const body = request.body as unknown;
  if (!body || typeof body !== 'object' || Array.isArray(body)) return null;
  return body as { query?: unknown; operationName?: unknown };
}

/**
 * May this request's session check ride on its one statement (../auth/session-check.ts)? Yes
 * when the operation it runs is a query whose only root field (besides `__typename`) is one
 * `tasks`, without directives: that field's resolver then reads the session and the page
 * together, and everything else in the document resolves below it, after the check. Anything
 * else (another root field, a fragment at the root, a mutation, a batch, a document that does
 * not parse) checks the session up front, as every request did before. A prediction only:
 * sessionCheckPlugin holds Apollo's own reading of the request to it.
 */
export function sessionCheckCanRide(request: FastifyRequest): boolean {
  const source = graphqlParams(request);
  if (!source) return false;
  const { query, operationName } = source;
  if (typeof query !== 'string' || query.length > MAX_DOCUMENT_LENGTH) return false;
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string')
    return false;
  const name = operationName ?? null;
  if (name !== null && name.length > MAX_NAME_LENGTH) return predict(query, name);
  const byName = verdictsOf(query);
  let verdict = byName.get(name);
  if (verdict === undefined) {
    verdict = predict(query, name);
    if (byName.size < MAX_NAMES) byName.set(name, verdict);
  }
  return verdict;
}

function predict(query: string, operationName: string | null): boolean {
  try {
    const operations = parse(query, { noLocation: true, maxTokens: 1_000 }).definitions.filter(
      (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
    );
    const operation =
      operationName === null
        ? operations.length === 1
          ? operations[0]
          : undefined
        : operations.find((d) => d.name?.value === operationName);
    return operation !== undefined && rootIsOneTasksField(operation);
  } catch {
    return false;
  }
}

/** A query whose root selections are one `tasks` field and maybe `__typename`, no directives. */
export function rootIsOneTasksField(operation: OperationDefinitionNode): boolean {
  if (operation.operation !== 'query' || operation.directives?.length) return false;
  let tasks = 0;
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || selection.directives?.length) return false;
    if (selection.name.value === 'tasks') tasks += 1;
    else if (selection.name.value !== '__typename') return false;
  }
  return tasks === 1;
}

/**
 * Fails closed: once Apollo has resolved the operation it will run, a viewer left unverified
 * for any other operation than one `tasks` root field (a prediction that read the request
 * otherwise) is checked there and then, in a statement of its own, before the query cost is
 * charged (the cost plugin waits for it: `ctx.session`) and before anything executes. Listed
 * before the cost plugin, so that its hook starts first.
 */
export function sessionCheckPlugin(): RequestPlugin<Context> {
  return {
    requestDidStart() {
      return {
        didResolveOperation({ contextValue: ctx, operation }) {
          if (!isUnverified(ctx.viewer)) return undefined;
          if (operation && rootIsOneTasksField(operation)) return undefined;
          ctx.session = verifySessionNow(ctx);
          return ctx.session.then(() => undefined);
        },
      };
    },
  };
}
