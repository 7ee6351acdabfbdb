import type { FastifyRequest } from 'fastify';
import { Kind, parse, type OperationDefinitionNode } from 'graphql';

/** Longer documents are never deferred (and never cached here): the hot pages are short. */
const MAX_DOCUMENT_LENGTH = 2_000;
const MAX_CACHED = 500;

/** Verdicts by document text and operation name; cleared when full (a bound, not an LRU). */
const verdicts = new Map<string, boolean>();

/**
 * May this request's session check ride on its one statement (../auth/session-check.ts)? Yes
 * when the operation it runs is a query whose only root field (besides `__typename`) is one
 * `tasks`, without directives: that field's resolver then reads the session and the page
 * together, and everything else in the document resolves below it, after the check. Anything
 * else (another root field, a fragment at the root, a mutation, a batch, a document that does
 * not parse) checks the session up front, as every request did before.
 */
export function sessionCheckCanRide(request: FastifyRequest): boolean {
  const source = (request.method === 'GET' ? request.query : request.body) as
    | { query?: unknown; operationName?: unknown }
    | null
    | undefined;
  if (!source || typeof source !== 'object' || Array.isArray(source)) return false;
  const { query, operationName } = source;
  if (typeof query !== 'string' || query.length > MAX_DOCUMENT_LENGTH) return false;
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string')
    return false;
  const key = `${operationName ?? ''}\n${query}`;
  let verdict = verdicts.get(key);
  if (verdict === undefined) {
    verdict = rootIsOneTasksField(query, operationName ?? null);
    if (verdicts.size >= MAX_CACHED) verdicts.clear();
    verdicts.set(key, verdict);
  }
  return verdict;
}

function rootIsOneTasksField(query: string, operationName: string | null): boolean {
  let operation: OperationDefinitionNode | undefined;
  try {
    const operations = parse(query, { noLocation: true, maxTokens: 1_000 }).definitions.filter(
      (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
    );
    operation =
      operationName === null
        ? operations.length === 1
          ? operations[0]
          : undefined
        : operations.find((d) => d.name?.value === operationName);
  } catch {
    return false;
  }
  if (!operation || operation.operation !== 'query' || operation.directives?.length) return false;
  let tasks = 0;
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || selection.directives?.length) return false;
    if (selection.name.value === 'tasks') tasks += 1;
    else if (selection.name.value !== '__typename') return false;
  }
  return tasks === 1;
}
