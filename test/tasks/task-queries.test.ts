import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectNoErrors, type OperationArgs, type TypedDocument } from '../helpers/graphql';
import {
  AdminUsersPageDocument,
  MeWithCreatedAtDocument,
  TaskIdsWithOwnerDocument,
  TaskOwnerEmailsDocument,
  UserTaskCountsDocument,
  UserTaskPagesDocument,
  UserTodoCountsDocument,
  UserUsageDocument,
  UsersUsageByToolDocument,
} from '../helpers/graphql-types';
import { unique, type SeededUser } from '../helpers/seed';
import { createTasks, type TaskInput, type TaskView, FAST_HASHING } from './task-fixtures';

/**
 * SQL statements per request, pinned: a list with nested fields costs a fixed number of
 * statements however many rows it has (DataLoaders batch per request; no N+1).
 */
const AUTH = 1; // the viewer's account, read with its session
// A document whose only root field is `tasks` reads the session and the page in one statement
// (src/auth/session-check.ts; test/tasks/session-with-page.test.ts).
const AUTH_WITH_TASK_PAGE = 1;
const TASK_PAGE = 1; // one owner's page, or every owner's in one windowed statement
const TASK_COUNTS = 1; // counts of every owner on the page, grouped
const USER_BATCH = 1; // every owner of every task on the page
const USER_PAGE = 1; // the admin's page of users

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp(FAST_HASHING);
});
afterAll(async () => {
  await t.close();
});

const inputs = (n: number, tag: string): TaskInput[] =>
  Array.from({ length: n }, (_, i) => ({ title: `${tag} ${i}` }));

/** Ids newest first, ties broken by id, as the default order promises. */
function newestFirst(tasks: TaskView[]): string[] {
  return [...tasks]
    .sort((a, b) =>
      a.createdAt !== b.createdAt ? (a.createdAt < b.createdAt ? 1 : -1) : a.id < b.id ? 1 : -1,
    )
    .map((x) => x.id);
}

/** The data of `document` and the SQL statements the app sent to answer it. */
async function statements<T, V>(
  document: TypedDocument<T, V>,
  ...args: OperationArgs<V>
): Promise<{ sql: string[]; data: T }> {
  let data: T | undefined;
  const sql = await t.countQueries(async () => {
    data = expectNoErrors(await t.gql(document, ...args));
  });
  return { sql, data: data! };
}

describe('tasks with owners', () => {
  it('costs one statement (the session check with the page), for 10 tasks as for 100: the owner is the viewer, read with the credentials', async () => {
    const [few, many] = await Promise.all([t.seed.user(), t.seed.user()]);
    await createTasks(t, few, inputs(10, 'few'));
    await createTasks(t, many, inputs(100, 'many'));

    const small = await statements(TaskOwnerEmailsDocument, { first: 100 }, few.accessToken);
    const large = await statements(TaskOwnerEmailsDocument, { first: 100 }, many.accessToken);
    expect(small.data.tasks.nodes).toHaveLength(10);
    expect(large.data.tasks.nodes).toHaveLength(100);
    for (const { data } of [small, large]) {
      const owner = data === small.data ? few : many;
      expect(
        data.tasks.nodes.every(
          (n: { owner: { id: string; email: string } }) =>
            n.owner.id === owner.id && n.owner.email === owner.email,
        ),
      ).toBe(true);
    }
    expect(small.sql).toHaveLength(AUTH_WITH_TASK_PAGE);
    expect(large.sql).toHaveLength(AUTH_WITH_TASK_PAGE);
  });

  it('asking for totalCount beside the page adds exactly one count', async () => {
    const u = await t.seed.user();
    await createTasks(t, u, inputs(12, 'counted'));
    const { sql, data } = await statements(TaskIdsWithOwnerDocument, { first: 5 }, u.accessToken);
    expect(data.tasks.totalCount).toBe(12);
    expect(data.tasks.nodes).toHaveLength(5);
    expect(sql).toHaveLength(AUTH_WITH_TASK_PAGE + TASK_COUNTS);
  });

  it('`me` costs only the credential check', async () => {
    const u = await t.seed.user();
    const { sql, data } = await statements(MeWithCreatedAtDocument, {}, u.accessToken);
    expect(data.me).toMatchObject({
      id: u.id,
      email: u.email,
      name: u.name,
      role: 'USER',
      isActive: true,
    });
    expect(sql).toHaveLength(AUTH);
  });
});

describe('users with their tasks (ADMIN)', () => {
  let admin: SeededUser;
  let tag: string;
  let users: SeededUser[];
  const taskCounts: number[] = [];
  const newestThree = new Map<string, string[]>();

  beforeAll(async () => {
    admin = await t.seed.admin();
    tag = unique('nplus1');
    // 32 users of our own, found by name: other test files may add users meanwhile.
    users = await Promise.all(Array.from({ length: 32 }, () => t.seed.user({ name: tag })));
    await Promise.all(
      users.map(async (u, i) => {
        taskCounts[i] = 1 + (i % 5);
        const created = await createTasks(t, u, inputs(taskCounts[i]!, `${tag} ${i}`));
        newestThree.set(u.id, newestFirst(created).slice(0, 3));
      }),
    );
  }, 60_000);

  function expected(): Map<string, number> {
    return new Map(users.map((u, i) => [u.id, taskCounts[i]!]));
  }

  it('tasks { totalCount } for every user is counted in the page’s own statement, for 5 users as for 32', async () => {
    const five = await statements(UserTaskCountsDocument, { first: 5, s: tag }, admin.accessToken);
    const all = await statements(UserTaskCountsDocument, { first: 100, s: tag }, admin.accessToken);
    expect(five.data.users.nodes).toHaveLength(5);
    expect(all.data.users.nodes).toHaveLength(32);
    const counts = expected();
    for (const node of all.data.users.nodes) {
      expect(node.tasks.totalCount).toBe(counts.get(node.id));
    }
    expect(five.sql).toHaveLength(AUTH + USER_PAGE);
    expect(all.sql).toHaveLength(AUTH + USER_PAGE);
    // With a filter on the tasks, the counts are one grouped statement beside the page.
    const filtered = await statements(UserTodoCountsDocument, { s: tag }, admin.accessToken);
    expect(filtered.sql).toHaveLength(AUTH + USER_PAGE + TASK_COUNTS);
  });

  it('the admin page (users, task counts, 30-day tokens) costs two statements, and each aggregate only when asked', async () => {
    const from = new Date(Date.now() - 30 * 86_400_000).toISOString();
    // One of them has used a tool twice.
    for (const text of ['Hello there.', 'And again.']) {
      expectNoErrors(
        await t.gql(
          `mutation($t: String!) { invokeTool(slug: "text-stats", input: { text: $t }) { usage { totalTokens } } }`,
          { t: text },
          users[0]!.accessToken,
        ),
      );
    }
    const page = await statements(AdminUsersPageDocument, { s: tag, from }, admin.accessToken);
    expect(page.sql).toHaveLength(AUTH + USER_PAGE);
    const counts = expected();
    for (const node of page.data.users.nodes) {
      expect(node.tasks.totalCount).toBe(counts.get(node.id));
      if (node.id !== users[0]!.id) expect(node.usage).toEqual({ totalTokens: 0, calls: 0 });
    }
    // The same totals as the per-user summary reads them.
    const one = page.data.users.nodes.find((n) => n.id === users[0]!.id)!;
    expect(one.usage.calls).toBe(2);
    expect(one.usage.totalTokens).toBeGreaterThan(0);
    const alone = await statements(UserUsageDocument, { id: one.id, from }, admin.accessToken);
    expect(alone.data.user!.usage).toEqual(one.usage);
    // A breakdown is one more statement, batched over the page.
    const byTool = await statements(UsersUsageByToolDocument, { s: tag, from }, admin.accessToken);
    expect(byTool.sql).toHaveLength(AUTH + USER_PAGE + 1);
  });

  it('tasks(first: 3) { nodes { owner } } for every user costs the same for 5 users as for 32', async () => {
    const five = await statements(UserTaskPagesDocument, { first: 5, s: tag }, admin.accessToken);
    const all = await statements(UserTaskPagesDocument, { first: 100, s: tag }, admin.accessToken);
    expect(five.data.users.nodes).toHaveLength(5);
    expect(all.data.users.nodes).toHaveLength(32);
    const counts = expected();
    for (const node of all.data.users.nodes) {
      expect(node.tasks.nodes).toHaveLength(Math.min(3, counts.get(node.id)!));
      expect(node.tasks.nodes.map((n: { id: string }) => n.id)).toEqual(newestThree.get(node.id));
      expect(node.tasks.nodes.every((n: { owner: { id: string } }) => n.owner.id === node.id)).toBe(
        true,
      );
    }
    expect(five.sql).toHaveLength(AUTH + USER_PAGE + TASK_PAGE + USER_BATCH);
    expect(all.sql).toHaveLength(AUTH + USER_PAGE + TASK_PAGE + USER_BATCH);
  });
});
