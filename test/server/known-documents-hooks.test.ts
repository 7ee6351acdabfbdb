import 'reflect-metadata';
import { ApolloServer, HeaderMap, type HTTPGraphQLResponse } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { GraphQLObjectType, GraphQLScalarType, GraphQLSchema, GraphQLString } from 'graphql';
import type { Context } from '../../src/context';
import { errorLogger, formatError } from '../../src/http/errors';
import { retryLaterStatus } from '../../src/http/graphql-handler';
import { KnownDocuments } from '../../src/http/known-documents';
import { asOnePlugin, listenerOf, type RequestPlugin } from '../../src/http/request-plugins';
import { interpretedExecution } from '../../src/schema/compiled-execution';

/**
 * The known-document lane against Apollo itself when a request plugin misbehaves, which no
 * plugin of this server does (test/server/known-documents.test.ts compares them on the real
 * server): the same status, headers, body and hooks called, in the same order, whichever hook
 * throws, and whatever a hook leaves as the response.
 */
const Raw = new GraphQLScalarType({ name: 'Raw', serialize: (v) => v });
const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      ok: { type: GraphQLString, resolve: () => 'yes' },
      boom: {
        type: GraphQLString,
        resolve: () => {
          throw new Error('secret');
        },
      },
      // A value JSON cannot write: the response fails as it is serialized.
      big: { type: Raw, resolve: () => BigInt(10) },
    },
  }),
});

type Fault = 'start' | 'resolve' | 'encounterOnce' | 'encounterAlways' | 'replaceBody';
let fault: Fault | null = null;
let calls: string[] = [];
const probe: RequestPlugin<Context> = {
  requestDidStart() {
    calls.push('requestDidStart');
    if (fault === 'start') throw new Error('requestDidStart threw');
    let encountered = 0;
    return {
      didResolveOperation() {
        calls.push('didResolveOperation');
        // Not even an Error.
        if (fault === 'resolve') throw 'nope';
      },
      didEncounterErrors() {
        calls.push('didEncounterErrors');
        encountered += 1;
        if (fault === 'encounterAlways' || (fault === 'encounterOnce' && encountered === 1)) {
          throw new Error('the error log is down');
        }
      },
      willSendResponse(rc) {
        calls.push('willSendResponse');
        if (fault === 'replaceBody') {
          rc.response.body = { kind: 'single', singleResult: { data: { replaced: true } } };
        }
      },
    };
  },
};

const quiet = { error() {}, warn() {}, info() {}, debug() {} };
const plugins = [probe, errorLogger(), retryLaterStatus()];
const stringifyResult = (value: unknown) => JSON.stringify(value);
const errors = formatError();
const lane = new KnownDocuments({
  executor: interpretedExecution(schema),
  listenerFor: (rc) => listenerOf(plugins, rc),
  formatError: errors,
  stringifyResult,
});
const apollo = new ApolloServer<Context>({
  schema,
  stringifyResult,
  formatError: errors,
  includeStacktraceInErrorResponses: false,
  logger: quiet,
  plugins: [
    // As the server (src/http/apollo.ts): no cache-control header.
    ApolloServerPluginCacheControlDisabled(),
    asOnePlugin([...plugins, lane.learner()], { hideSuggestions: false }),
  ],
});
const context = () => Promise.resolve({ logger: quiet, requestId: 'r1' } as unknown as Context);

function summary(r: HTTPGraphQLResponse) {
  return {
    status: r.status ?? 200,
    headers: [...r.headers],
    body: r.body.kind === 'complete' ? r.body.string : 'chunked',
    calls: [...calls],
  };
}

async function viaApollo(body: unknown) {
  calls = [];
  return summary(
    await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: 'POST',
        body,
        headers: new HeaderMap([['content-type', 'application/json']]),
        search: '',
      },
      context,
    }),
  );
}

async function viaLane(body: unknown) {
  calls = [];
  const answer = lane.answer(
    { method: 'POST', body, headers: { 'content-type': 'application/json' } },
    context,
    () => {
      throw new Error('the context did not fail');
    },
  );
  if (!answer) throw new Error('the lane did not take a document Apollo validated');
  return summary(await answer);
}

beforeAll(() => apollo.start());
afterAll(() => apollo.stop());

const cases: [string, string, Fault | null][] = [
  ['nothing goes wrong', '{ ok }', null],
  ['a resolver error', '{ boom }', null],
  [
    "didEncounterErrors throws over execution's errors (then reports its own)",
    '{ boom }',
    'encounterOnce',
  ],
  ['didEncounterErrors always throws', '{ boom }', 'encounterAlways'],
  ['requestDidStart throws', '{ ok }', 'start'],
  ['didResolveOperation throws something not an Error', '{ ok }', 'resolve'],
  ['willSendResponse replaces the response', '{ ok }', 'replaceBody'],
  ['the result does not serialize', '{ big }', null],
];

it.each(cases)(
  '%s: the lane answers and calls the hooks as Apollo does',
  async (_name, query, f) => {
    const body = { query };
    fault = null;
    await viaApollo(body); // Apollo validates it; the lane learns it
    fault = f;
    try {
      const byApollo = await viaApollo(body);
      const byLane = await viaLane(body);
      expect(byLane).toEqual(byApollo);
    } finally {
      fault = null;
    }
  },
);
