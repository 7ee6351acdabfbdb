#!/usr/bin/env node
// A dashboard's client side with Apollo Client (no UI): signs up or in, adds tasks and pages
// them with fetchMore, calls a built-in tool, reads usage and the plan's metering from the
// normalized cache, and keeps the session alive: when the access token has expired, exactly
// one refresh runs however many requests failed at once, and they are retried with the new
// token.
//
//   SWITCHBOARD_URL=http://127.0.0.1:4000 EMAIL=me@example.com PASSWORD='a long passphrase' \
//     node examples/dashboard.mjs [--register] [--wait-for-expiry]
//
// Prints one line per step; exits 1 on any error.
import {
  ApolloClient,
  ApolloLink,
  HttpLink,
  InMemoryCache,
  fromPromise,
  gql,
} from '@apollo/client/core/index.js';
import { onError } from '@apollo/client/link/error/index.js';
import { readFileSync } from 'node:fs';

/**
 * The operations, one a file in examples/operations/: `npm run codegen` checks them against the
 * schema and types them (CI fails when one no longer fits), so this script cannot drift.
 */
const operation = (name) =>
  readFileSync(new URL(`./operations/${name}.graphql`, import.meta.url), 'utf8');

const base = (process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:4000').replace(/\/$/, '');
const email = process.env.EMAIL;
const password = process.env.PASSWORD;
const register = process.argv.includes('--register');
const waitForExpiry = process.argv.includes('--wait-for-expiry');
if (!email || !password) {
  console.error('Set EMAIL and PASSWORD');
  process.exit(2);
}

let session = null; // { accessToken, accessTokenExpiresAt, refreshToken, user }
let refreshes = 0;

/** Plain fetch for the session's own mutations: they must not go through the retrying link. */
async function authRequest(query, variables) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors?.length) {
    const e = body.errors[0];
    throw new Error(`${e.extensions?.code}: ${e.message}`);
  }
  return Object.values(body.data)[0];
}

/** One refresh in flight at a time: every request that failed on an expired token waits on it. */
let refreshing = null;
function refreshSession() {
  refreshing ??= authRequest(operation('DashboardRefresh'), { t: session.refreshToken })
    .then((next) => {
      session = next;
      refreshes += 1;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

const withToken = new ApolloLink((operation, forward) => {
  operation.setContext(({ headers = {} }) => ({
    headers: { ...headers, authorization: `Bearer ${session.accessToken}` },
  }));
  return forward(operation);
});
const refreshOnExpiry = onError(({ graphQLErrors, operation, forward }) => {
  const expired = graphQLErrors?.some((e) => e.extensions?.code === 'UNAUTHENTICATED');
  if (!expired || operation.getContext().retried) return undefined;
  operation.setContext({ retried: true });
  return fromPromise(refreshSession()).flatMap(() => forward(operation));
});

const client = new ApolloClient({
  link: ApolloLink.from([refreshOnExpiry, withToken, new HttpLink({ uri: `${base}/graphql` })]),
  cache: new InMemoryCache({
    typePolicies: {
      Query: {
        fields: {
          // One list for every page: fetchMore appends the next page's nodes (the first page,
          // without `after`, starts it afresh).
          tasks: {
            keyArgs: ['filter', 'orderBy'],
            merge(existing, incoming, { args }) {
              if (!existing || !args?.after) return incoming;
              return { ...incoming, nodes: [...existing.nodes, ...incoming.nodes] };
            },
          },
        },
      },
    },
  }),
  defaultOptions: { query: { fetchPolicy: 'network-only' } },
});

const TASKS = gql(operation('DashboardTasks'));
const METERING = gql(operation('DashboardMetering'));

try {
  session = register
    ? await authRequest(operation('DashboardRegister'), {
        i: { email, password, name: 'Dashboard example' },
      })
    : await authRequest(operation('DashboardLogin'), {
        i: { email, password },
      });
  console.log(`signed in as ${session.user.email}`);

  for (const title of ['Write the report', 'Review the numbers', 'Send the invoice']) {
    await client.mutate({
      mutation: gql(operation('DashboardCreateTask')),
      variables: { title },
    });
  }
  // The first page, then the next ones merged into the same cached list with fetchMore.
  const list = client.watchQuery({ query: TASKS });
  let { data } = await list.result();
  while (data.tasks.pageInfo.hasNextPage) {
    await list.fetchMore({ variables: { after: data.tasks.pageInfo.endCursor } });
    data = list.getCurrentResult().data;
  }
  const tasks = data.tasks;
  console.log(`tasks: ${tasks.nodes.length} of ${tasks.totalCount}`);

  const called = await client.mutate({
    mutation: gql(operation('DashboardInvokeTool')),
    variables: { text: 'Dashboards count words too.' },
  });
  console.log(`text-stats: ${called.data.invokeTool.usage.totalTokens} tokens`);

  const metering = await client.query({ query: METERING });
  const { mySubscription: sub, myUsage } = metering.data;
  console.log(
    `plan ${sub.plan.tier}: ${sub.tokensUsed} tokens used this period, ${myUsage.calls} calls`,
  );

  if (waitForExpiry) {
    // Counted from here: on a slow machine the token can also expire during the steps above.
    const refreshedBefore = refreshes;
    const wait = new Date(session.accessTokenExpiresAt).getTime() - Date.now() + 1_100;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
    // Three requests at once with an expired token: one refresh, three answers.
    const answers = await Promise.all([
      client.query({ query: METERING }),
      client.query({ query: TASKS }),
      client.query({ query: METERING }),
    ]);
    console.log(`after expiry: ${answers.length} answers, ${refreshes - refreshedBefore} refresh`);
  }
  client.stop();
} catch (err) {
  console.error(err.message);
  process.exit(1);
}
