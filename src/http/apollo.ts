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
import { compiledExecution } from '../schema/compiled-execution';
import { queryCostPlugin } from '../schema/query-cost';
import { errorLogger, formatError } from './errors';
import { serviceUnavailableStatus } from './graphql-handler';
import { operationTelemetry } from './operation-telemetry';
import { asOnePlugin } from './request-plugins';
import { sessionCheckPlugin } from './session-deferral';

/**
 * Apollo Server over the guarded schema, started: error mapping, query cost, the operation's
 * latency and span, no extras.
 */
export async function startApollo(
  server: FastifyInstance,
  schema: GraphQLSchema,
  config: Config,
  costBudget: CostBudget,
  metrics: Metrics,
): Promise<ApolloServer<Context>> {
  const apollo = new ApolloServer<Context>({
    // Parsing, validation and plugins are Apollo's either way; execution is compiled or not.
    ...(config.queryCompile
      ? {
          gateway: compiledExecution(schema, {
            compileAfter: config.queryCompileAfter,
            onCompile: () => metrics.operationsCompiled.inc(),
          }),
        }
      : { schema }),
    introspection: config.introspection,
    includeStacktraceInErrorResponses: false,
    // Apollo pretty-prints by default (JSON.stringify with indentation): bytes and CPU for nobody.
    stringifyResult: (value) => JSON.stringify(value),
    formatError: formatError(),
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
      asOnePlugin(
        [
          // Before the cost plugin: it waits for an unverified session this checks on its own.
          sessionCheckPlugin(),
          queryCostPlugin(schema, costBudget, config.queryMaxCost, metrics),
          operationTelemetry(metrics),
          errorLogger(),
          serviceUnavailableStatus(),
        ],
        // Without introspection, "Did you mean …?" suggestions would map the schema anyway.
        { hideSuggestions: !config.introspection },
      ),
    ],
  });
  await apollo.start();
  return apollo;
}
