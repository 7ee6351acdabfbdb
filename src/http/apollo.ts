import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import type { FastifyInstance } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import type { Config } from '../config';
import type { Context } from '../context';
import type { CostBudget } from '../lib/cost-budget';
import type { Metrics } from '../metrics';
import { compiledExecution, interpretedExecution } from '../schema/compiled-execution';
import { queryCostPlugin } from '../schema/query-cost';
import { errorLogger, formatError } from './errors';
import { retryLaterStatus } from './graphql-handler';
import { rootFieldsPlugin } from './root-fields';
import { operationTelemetry } from './operation-telemetry';
import { KnownDocuments } from './known-documents';
import { asOnePlugin, listenerOf, type RequestPlugin } from './request-plugins';
import { sessionCheckPlugin } from './session-deferral';

/**
 * Apollo Server over the guarded schema, started: error mapping, query cost, the operation's
 * latency and span, no extras; and the known-document lane (./known-documents.ts) beside it,
 * with the same plugins, executor and error formatting.
 */
export async function startApollo(
  server: FastifyInstance,
  schema: GraphQLSchema,
  config: Config,
  costBudget: CostBudget,
  metrics: Metrics,
): Promise<{ apollo: ApolloServer<Context>; lane: KnownDocuments | null }> {
  // Parsing, validation and plugins are Apollo's either way; execution is compiled or not.
  const gateway = config.queryCompile
    ? compiledExecution(schema, {
        compileAfter: config.queryCompileAfter,
        onCompile: () => metrics.operationsCompiled.inc(),
      })
    : null;
  const executor =
    (gateway && (await gateway.load({ apollo: {} })).executor) ?? interpretedExecution(schema);
  const errors = formatError();
  // Apollo pretty-prints by default (JSON.stringify with indentation): bytes and CPU for nobody.
  const stringifyResult = (value: unknown) => JSON.stringify(value);
  const plugins: readonly RequestPlugin<Context>[] = [
    // Before the cost plugin: it waits for an unverified session this checks on its own.
    sessionCheckPlugin(),
    // Before anything is charged or run: a mutation's root fields are authorized together.
    rootFieldsPlugin(schema),
    queryCostPlugin(schema, costBudget, config.queryMaxCost, metrics),
    operationTelemetry(metrics),
    errorLogger(),
    retryLaterStatus(),
  ];
  // With APOLLO_KEY in the environment Apollo installs usage reporting itself, which sees only
  // what runs through its pipeline: every operation goes through it then.
  const laneOn = config.queryKnownDocuments && !process.env.APOLLO_KEY;
  const lane = new KnownDocuments({
    executor,
    listenerFor: (rc) => listenerOf(plugins, rc),
    formatError: errors,
    stringifyResult,
    onAnswer: () => metrics.knownDocumentRequests.inc(),
  });

  const apollo = new ApolloServer<Context>({
    ...(gateway ? { gateway } : { schema }),
    introspection: config.introspection,
    includeStacktraceInErrorResponses: false,
    stringifyResult,
    formatError: errors,
    parseOptions: { maxTokens: config.queryMaxTokens },
    // Apollo formats each validation error at ~90 µs: a document of 100 unknown fields would
    // cost 9 ms. Ten tell a client what is wrong as well.
    validationOptions: { maxErrors: 10 },
    plugins: [
      fastifyApolloDrainPlugin(server),
      ApolloServerPluginLandingPageDisabled(),
      // Its per-field hook wraps every resolver; responses here are per-user and never cached.
      ApolloServerPluginCacheControlDisabled(),
      // Federation's traces, for subgraphs: this is not one.
      ApolloServerPluginInlineTraceDisabled(),
      // Without introspection, "Did you mean …?" suggestions would map the schema anyway.
      asOnePlugin(laneOn ? [...plugins, lane.learner()] : plugins, {
        hideSuggestions: !config.introspection,
      }),
    ],
  });
  await apollo.start();
  return { apollo, lane: laneOn ? lane : null };
}
