/**
 * Issue 11: results are cache-friendly. Apollo Client itself, with a normalized InMemoryCache,
 * talks to a real server: every mutation returns the objects it changed with their ids, so the
 * cache updates in place and a client never needs a refetch.
 */
import {
  ApolloClient,
  HttpLink,
  InMemoryCache,
  gql,
  type NormalizedCacheObject,
} from '@apollo/client/core';
import { loadDevMessages, loadErrorMessages } from '@apollo/client/dev';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import type { SeededUser } from '../helpers/seed';

// Full text for Apollo's warnings ("Cache data may be lost ...", "Missing field ...").
loadDevMessages();
loadErrorMessages();

interface CountingClient {
  client: ApolloClient<NormalizedCacheObject>;
  /** HTTP requests the link has sent so far. */
  requests(): number;
}

let t: TestApp;
let warn: jest.SpiedFunction<typeof console.warn>;
let error: jest.SpiedFunction<typeof console.error>;
const clients: ApolloClient<NormalizedCacheObject>[] = [];

beforeAll(async () => {
  // Spied for the whole file, calls still go through to the console.
  warn = jest.spyOn(console, 'warn');
  error = jest.spyOn(console, 'error');
  t = await startTestApp({ bcryptCost: 4 });
});
afterAll(async () => {
  for (const client of clients) client.stop();
  warn.mockRestore();
  error.mockRestore();
  await t?.close();
});

/** A fresh client for `user` with its own cache, counting the requests its link sends. */
function clientFor(user: SeededUser): CountingClient {
  let count = 0;
  const countingFetch: typeof fetch = (input, init) => {
    count += 1;
    return fetch(input, init);
  };
  const client = new ApolloClient({
    cache: new InMemoryCache(),
    link: new HttpLink({
      uri: `${t.url}/graphql`,
      fetch: countingFetch,
      headers: { authorization: `Bearer ${user.accessToken}` },
    }),
  });
  clients.push(client);
  return { client, requests: () => count };
}

function expectNoCacheWarnings(): void {
  expect(warn.mock.calls).toEqual([]);
  expect(error.mock.calls).toEqual([]);
}

const MY_SUBSCRIPTION = gql`
  query MySubscription {
    mySubscription {
      id
      tokensUsed
      tokensRemaining
      plan {
        id
        tier
      }
    }
  }
`;

const INVOKE_TOOL = gql`
  mutation InvokeTool($slug: String!, $input: JSON!) {
    invokeTool(slug: $slug, input: $input) {
      output
      replayed
      usage {
        id
        inputTokens
        outputTokens
      }
      subscription {
        id
        tokensUsed
        tokensRemaining
      }
    }
  }
`;

const TASKS = gql`
  query Tasks {
    tasks(first: 10) {
      nodes {
        id
        title
        status
      }
    }
  }
`;

const UPDATE_TASK = gql`
  mutation UpdateTask($id: ID!, $input: UpdateTaskInput!) {
    updateTask(id: $id, input: $input) {
      id
      title
      status
    }
  }
`;

const ME_TOKENS = gql`
  query MeTokens {
    me {
      id
      subscription {
        id
        tokensUsed
      }
    }
  }
`;

const ME_PLAN = gql`
  query MePlan {
    me {
      id
      subscription {
        id
        plan {
          id
          tier
        }
      }
    }
  }
`;

interface SubscriptionView {
  id: string;
  tokensUsed: number;
  tokensRemaining: number | null;
  plan: { id: string; tier: string };
}

describe('Apollo Client cache against the real server (issue 11)', () => {
  it('invokeTool returns the charged subscription by id: the cached mySubscription updates without a refetch', async () => {
    const user = await t.seed.user();
    const { client, requests } = clientFor(user);

    const before = await client.query<{ mySubscription: SubscriptionView }>({
      query: MY_SUBSCRIPTION,
    });
    expect(before.errors).toBeUndefined();
    const sub = before.data.mySubscription;
    expect(sub.id).toEqual(expect.any(String));
    expect(sub.tokensUsed).toBe(0);
    expect(sub.plan).toMatchObject({ id: 'FREE', tier: 'FREE' });
    expect(requests()).toBe(1);

    const result = await client.mutate({
      mutation: INVOKE_TOOL,
      variables: { slug: 'text-stats', input: { text: 'Hello world. How are you today? Fine!' } },
    });
    expect(result.errors).toBeUndefined();
    const call = result.data.invokeTool;
    const charged = call.usage.inputTokens + call.usage.outputTokens;
    expect(charged).toBeGreaterThan(0);
    expect(call.subscription.id).toBe(sub.id);
    expect(call.subscription.tokensUsed).toBe(sub.tokensUsed + charged);
    expect(requests()).toBe(2);

    // The first query, read back from the cache alone, shows the charge.
    const expected = {
      ...sub,
      tokensUsed: sub.tokensUsed + charged,
      tokensRemaining: sub.tokensRemaining === null ? null : sub.tokensRemaining - charged,
    };
    const cached = client.readQuery<{ mySubscription: SubscriptionView }>({
      query: MY_SUBSCRIPTION,
    });
    expect(cached?.mySubscription).toEqual(expected);
    const cacheOnly = await client.query<{ mySubscription: SubscriptionView }>({
      query: MY_SUBSCRIPTION,
      fetchPolicy: 'cache-only',
    });
    expect(cacheOnly.partial).toBeFalsy();
    expect(cacheOnly.data.mySubscription).toEqual(expected);
    expect(requests()).toBe(2);
    expectNoCacheWarnings();
  });

  it('updateTask returns the task by id: the cached task list shows the change without a refetch', async () => {
    const user = await t.seed.user();
    const seeded = [
      await t.seed.task(user, { title: 'first' }),
      await t.seed.task(user, { title: 'second' }),
      await t.seed.task(user, { title: 'third' }),
    ];
    const { client, requests } = clientFor(user);

    type TaskRow = { id: string; title: string; status: string };
    const list = await client.query<{ tasks: { nodes: TaskRow[] } }>({ query: TASKS });
    expect(list.errors).toBeUndefined();
    const nodes = list.data.tasks.nodes;
    expect(nodes.map((n) => n.id).sort()).toEqual(seeded.map((s) => s.id).sort());
    expect(nodes.every((n) => n.status === 'TODO')).toBe(true);
    expect(requests()).toBe(1);

    const target = nodes.find((n) => n.title === 'second')!;
    const updated = await client.mutate<{ updateTask: TaskRow }>({
      mutation: UPDATE_TASK,
      variables: { id: target.id, input: { title: 'second, renamed', status: 'IN_PROGRESS' } },
    });
    expect(updated.errors).toBeUndefined();
    expect(updated.data?.updateTask).toEqual({
      __typename: 'Task',
      id: target.id,
      title: 'second, renamed',
      status: 'IN_PROGRESS',
    });
    expect(requests()).toBe(2);

    const cached = await client.query<{ tasks: { nodes: TaskRow[] } }>({
      query: TASKS,
      fetchPolicy: 'cache-only',
    });
    expect(cached.partial).toBeFalsy();
    expect(cached.data.tasks.nodes).toEqual(
      nodes.map((n) =>
        n.id === target.id ? { ...n, title: 'second, renamed', status: 'IN_PROGRESS' } : n,
      ),
    );
    expect(requests()).toBe(2);
    expectNoCacheWarnings();
  });

  it('two queries selecting different fields of the viewer’s subscription do not overwrite each other', async () => {
    const user = await t.seed.user();
    const { client, requests } = clientFor(user);

    const tokens = await client.query({ query: ME_TOKENS });
    const plan = await client.query({ query: ME_PLAN });
    expect(tokens.errors).toBeUndefined();
    expect(plan.errors).toBeUndefined();
    expect(requests()).toBe(2);

    const subscriptionId = tokens.data.me.subscription.id;
    expect(plan.data.me.subscription.id).toBe(subscriptionId);

    for (const [query, expected] of [
      [
        ME_TOKENS,
        {
          me: {
            __typename: 'User',
            id: user.id,
            subscription: { __typename: 'PlanSubscription', id: subscriptionId, tokensUsed: 0 },
          },
        },
      ],
      [
        ME_PLAN,
        {
          me: {
            __typename: 'User',
            id: user.id,
            subscription: {
              __typename: 'PlanSubscription',
              id: subscriptionId,
              plan: { __typename: 'Plan', id: 'FREE', tier: 'FREE' },
            },
          },
        },
      ],
    ] as const) {
      expect(client.readQuery({ query })).toEqual(expected);
      const cached = await client.query({ query, fetchPolicy: 'cache-only' });
      expect(cached.partial).toBeFalsy();
      expect(cached.data).toEqual(expected);
    }
    expect(requests()).toBe(2);
    expectNoCacheWarnings();
  });

  it('logged no cache warnings in the whole file: no "Cache data may be lost", no missing fields', () => {
    expectNoCacheWarnings();
  });
});
