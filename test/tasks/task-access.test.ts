import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, untyped } from '../helpers/graphql';
import {
  AdminDeleteTaskDocument,
  AllTaskIdsDocument,
  AllTasksByPriorityDocument,
  AllTasksDocument,
  AuditTargetsDocument,
  CreateTaskDocument,
  DeleteTaskDocument,
  MyTasksDocument,
  TaskAuditDocument,
  TaskDocument,
  TaskIdsDocument,
  TaskIdsWithOwnerDocument,
  UpdateTaskDocument,
  type AllTasksByPriorityQuery,
} from '../helpers/graphql-types';
import { unique, type SeededUser } from '../helpers/seed';
import {
  FAST_HASHING,
  MISSING_ID,
  createTasks,
  expectBadInput,
  taskCalls,
  taskCount,
  type TaskView,
} from './task-fixtures';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp(FAST_HASHING);
});
afterAll(async () => {
  await t.close();
});
const { create, get } = taskCalls(() => t);

describe('isolation between users', () => {
  let owner: SeededUser;
  let intruder: SeededUser;
  let theirs: TaskView;

  beforeAll(async () => {
    [owner, intruder] = await Promise.all([t.seed.user(), t.seed.user()]);
    theirs = await create(owner, {
      title: 'Private plan',
      description: 'secret',
      priority: 'HIGH',
      dueDate: '2032-02-02T00:00:00.000Z',
    });
    await create(intruder, { title: 'Intruder own task' });
  });

  /** Each operation, on another user's id and on a missing id: the very same error. */
  const operations: [string, string, (id: string) => Record<string, unknown>][] = [
    ['task', untyped(TaskDocument), (id) => ({ id })],
    [
      'updateTask',
      untyped(UpdateTaskDocument),
      (id) => ({ id, input: { title: 'Hijacked', status: 'DONE' } }),
    ],
    ['deleteTask', untyped(DeleteTaskDocument), (id) => ({ id })],
  ];

  it.each(operations)(
    '%s on another user’s task answers exactly as a missing id',
    async (_name, query, vars) => {
      const foreign = await t.gql(query, vars(theirs.id), intruder.accessToken);
      const missing = await t.gql(query, vars(MISSING_ID), intruder.accessToken);
      const a = expectErrorCode(foreign, 'NOT_FOUND');
      const b = expectErrorCode(missing, 'NOT_FOUND');
      expect(a.message).toBe('Task not found');
      expect(a.message).toBe(b.message);
      expect(a.extensions).toEqual(b.extensions);
      expect(foreign.data).toEqual(missing.data);
      expect(foreign.errors).toHaveLength(1);
      expect(missing.errors).toHaveLength(1);
      // The owner's task is untouched.
      expect(await get(owner, theirs.id)).toEqual(theirs);
    },
  );

  it.each(operations)(
    '%s refuses a malformed id as BAD_USER_INPUT on id, writing nothing',
    async (_name, query, vars) => {
      for (const id of ['abc', '', '123', `${theirs.id}x`, theirs.id.replace(/-/g, '')]) {
        const err = expectErrorCode(
          await t.gql(query, vars(id), owner.accessToken),
          'BAD_USER_INPUT',
        );
        expect(err.extensions?.fields).toEqual(['id']);
      }
      expect(await get(owner, theirs.id)).toEqual(theirs);
    },
  );

  it('an upper-case UUID finds the task for its owner only', async () => {
    const upper = await get(owner, theirs.id.toUpperCase());
    expect(upper.id).toBe(theirs.id);
    expectErrorCode(
      await t.gql(TaskDocument, { id: theirs.id.toUpperCase() }, intruder.accessToken),
      'NOT_FOUND',
    );
  });

  it('tasks never lists another user’s tasks', async () => {
    const list = expectNoErrors(
      await t.gql(TaskIdsWithOwnerDocument, { first: 100 }, intruder.accessToken),
    );
    expect(list.tasks.totalCount).toBe(1);
    expect(list.tasks.nodes).toHaveLength(1);
    expect(list.tasks.nodes[0].owner.id).toBe(intruder.id);
    const searched = expectNoErrors(
      await t.gql(TaskIdsDocument, { filter: { search: 'Private plan' } }, intruder.accessToken),
    );
    expect(searched.tasks).toEqual({ totalCount: 0, nodes: [] });
    const own = expectNoErrors(await t.gql(TaskIdsDocument, {}, owner.accessToken));
    expect(own.tasks).toEqual({ totalCount: 1, nodes: [{ id: theirs.id }] });
  });

  it('another user’s tasks are not reachable through user(id); me.tasks lists one’s own', async () => {
    const res = await t.gql(
      `query($id: ID!) { user(id: $id) { tasks { totalCount } } }`,
      { id: owner.id },
      intruder.accessToken,
    );
    expectErrorCode(res, 'FORBIDDEN');
    const me = expectNoErrors(await t.gql(MyTasksDocument, {}, owner.accessToken));
    expect(me.me.tasks).toEqual({ totalCount: 1, nodes: [{ id: theirs.id }] });
  });
});

describe('API keys act within their scopes', () => {
  it('TASKS_READ reads but cannot write; TASKS_WRITE writes but cannot read', async () => {
    const u = await t.seed.user();
    const task = await create(u, { title: 'Keyed' });
    const reader = await t.seed.apiKey(u, ['TASKS_READ']);
    const writer = await t.seed.apiKey(u, ['TASKS_WRITE']);

    expect((await get({ ...u, accessToken: reader.secret }, task.id)).title).toBe('Keyed');
    for (const [query, vars] of [
      [untyped(CreateTaskDocument), { input: { title: 'by reader' } }],
      [untyped(UpdateTaskDocument), { id: task.id, input: { title: 'by reader' } }],
      [untyped(DeleteTaskDocument), { id: task.id }],
    ] as const) {
      const err = expectErrorCode(await t.gql(query, vars, reader.secret), 'FORBIDDEN');
      expect(err.extensions?.requiredScope).toBe('TASKS_WRITE');
    }
    expect(await get(u, task.id)).toEqual(task);

    const made = expectNoErrors(
      await t.gql(CreateTaskDocument, { input: { title: 'by writer' } }, writer.secret),
    ).createTask;
    expect(made.owner.id).toBe(u.id);
    for (const [query, vars] of [
      [untyped(TaskDocument), { id: task.id }],
      [`{ tasks { totalCount } }`, {}],
    ] as const) {
      const err = expectErrorCode(await t.gql(query, vars, writer.secret), 'FORBIDDEN');
      expect(err.extensions?.requiredScope).toBe('TASKS_READ');
    }
    expect(await taskCount(t, u)).toBe(2);
  });

  it('an admin’s API key is not an admin: allTasks and adminDeleteTask are FORBIDDEN', async () => {
    const admin = await t.seed.newAdmin();
    const key = await t.seed.apiKey(admin, ['TASKS_READ', 'TASKS_WRITE']);
    const owner = await t.seed.user();
    const victim = await t.seed.task(owner);
    expectErrorCode(await t.gql(`{ allTasks { totalCount } }`, {}, key.secret), 'FORBIDDEN');
    expectErrorCode(
      await t.gql(AdminDeleteTaskDocument, { id: victim.id }, key.secret),
      'FORBIDDEN',
    );
    const still = expectNoErrors(
      await t.gql(AllTaskIdsDocument, { id: owner.id }, admin.accessToken),
    );
    expect(still.allTasks.nodes).toEqual([{ id: victim.id }]);
  });
});

describe('admin', () => {
  let admin: SeededUser;
  let ann: SeededUser;
  let bob: SeededUser;
  let token: string;
  let annTasks: TaskView[];
  let bobTasks: TaskView[];

  beforeAll(async () => {
    [admin, ann, bob] = await Promise.all([t.seed.admin(), t.seed.user(), t.seed.user()]);
    token = unique('admintag');
    annTasks = await createTasks(t, ann, [
      { title: `${token} ann 1` },
      { title: `${token} ann 2`, priority: 'HIGH' },
    ]);
    bobTasks = await createTasks(t, bob, [{ title: `${token} bob 1`, status: 'DONE' }]);
  });

  it('allTasks lists every owner’s tasks, newest first', async () => {
    const res = expectNoErrors(
      await t.gql(AllTasksDocument, { filter: { search: token } }, admin.accessToken),
    );
    expect(res.allTasks.totalCount).toBe(3);
    expect(res.allTasks.nodes.map((n) => n.id)).toEqual(
      [...annTasks, ...bobTasks]
        .sort((a, b) =>
          a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1,
        )
        .map((x) => x.id),
    );
    const owners = new Set(res.allTasks.nodes.map((n) => n.owner.id));
    expect(owners).toEqual(new Set([ann.id, bob.id]));
  });

  it('allTasks with ownerId lists only that owner’s tasks', async () => {
    const res = expectNoErrors(
      await t.gql(AllTasksDocument, { ownerId: ann.id }, admin.accessToken),
    );
    expect(res.allTasks.totalCount).toBe(2);
    expect(res.allTasks.nodes.map((n) => n.id).sort()).toEqual(annTasks.map((x) => x.id).sort());
    expect(res.allTasks.nodes.every((n) => n.owner.id === ann.id)).toBe(true);
    const filtered = expectNoErrors(
      await t.gql(
        AllTasksDocument,
        { ownerId: bob.id, filter: { status: ['DONE'] } },
        admin.accessToken,
      ),
    );
    expect(filtered.allTasks.nodes.map((n) => n.id)).toEqual([bobTasks[0]!.id]);
    const none = expectNoErrors(
      await t.gql(AllTasksDocument, { ownerId: MISSING_ID }, admin.accessToken),
    );
    expect(none.allTasks).toEqual({ totalCount: 0, nodes: [] });
  });

  it('allTasks pages through every owner’s tasks in the asked order, with cursors', async () => {
    const all = [...annTasks, ...bobTasks];
    const rank = { LOW: 0, MEDIUM: 1, HIGH: 2, URGENT: 3 } as const;
    const expected = [...all]
      .sort((a, b) => rank[b.priority] - rank[a.priority] || (a.id < b.id ? 1 : -1))
      .map((x) => x.id);
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 3; i += 1) {
      const res: AllTasksByPriorityQuery = expectNoErrors(
        await t.gql(AllTasksByPriorityDocument, { s: token, after }, admin.accessToken),
      );
      expect(res.allTasks.totalCount).toBe(3);
      seen.push(...res.allTasks.nodes.map((n: { id: string }) => n.id));
      expect(res.allTasks.pageInfo.hasNextPage).toBe(i < 2);
      after = res.allTasks.pageInfo.endCursor;
    }
    expect(seen).toEqual(expected);
  });

  it('allTasks refuses a malformed ownerId and bad paging like tasks does', async () => {
    const err = expectBadInput(
      await t.gql(AllTasksDocument, { ownerId: 'abc' }, admin.accessToken),
      'ownerId',
    );
    expect(err.message).toBe('ownerId is not a valid id');
    expectBadInput(await t.gql(AllTasksDocument, { first: 101 }, admin.accessToken), 'first');
    expectBadInput(
      await t.gql(`{ allTasks(after: "zzz") { nodes { id } } }`, {}, admin.accessToken),
      'after',
    );
  });

  it('allTasks is refused to a normal user with FORBIDDEN', async () => {
    const res = await t.gql(AllTasksDocument, { filter: { search: token } }, ann.accessToken);
    expectErrorCode(res, 'FORBIDDEN');
    expect(res.data ?? null).toBeNull();
    const own = await t.gql(AllTasksDocument, { ownerId: ann.id }, ann.accessToken);
    expectErrorCode(own, 'FORBIDDEN');
  });

  it('adminDeleteTask is refused to a normal user, even on their own task; nothing is deleted', async () => {
    for (const id of [bobTasks[0]!.id, annTasks[0]!.id]) {
      const res = await t.gql(AdminDeleteTaskDocument, { id }, ann.accessToken);
      expectErrorCode(res, 'FORBIDDEN');
      expect(res.data ?? null).toBeNull();
    }
    expect((await get(bob, bobTasks[0]!.id)).id).toBe(bobTasks[0]!.id);
    expect((await get(ann, annTasks[0]!.id)).id).toBe(annTasks[0]!.id);
  });

  it('adminDeleteTask deletes anyone’s task and writes an audit entry', async () => {
    const victim = annTasks[1]!;
    const res = expectNoErrors(
      await t.gql(AdminDeleteTaskDocument, { id: victim.id }, admin.accessToken),
    );
    expect(res.adminDeleteTask).toBe(victim.id);
    expectErrorCode(await t.gql(TaskDocument, { id: victim.id }, ann.accessToken), 'NOT_FOUND');
    expect(await taskCount(t, ann)).toBe(1);

    const log = expectNoErrors(await t.gql(TaskAuditDocument, { first: 100 }, admin.accessToken));
    const entries = log.auditLog.nodes.filter((e) => e.targetId === victim.id);
    expect(entries).toEqual([
      {
        action: 'task.delete',
        targetType: 'Task',
        targetId: victim.id,
        details: {
          before: { title: victim.title, status: victim.status, ownerId: ann.id },
          after: null,
        },
        actor: { id: admin.id },
      },
    ]);

    // Gone: a second delete is NOT_FOUND, as is a missing id; a malformed one is bad input.
    for (const id of [victim.id, MISSING_ID]) {
      expectErrorCode(await t.gql(AdminDeleteTaskDocument, { id }, admin.accessToken), 'NOT_FOUND');
    }
    expectErrorCode(
      await t.gql(AdminDeleteTaskDocument, { id: 'abc' }, admin.accessToken),
      'BAD_USER_INPUT',
    );
    const after = expectNoErrors(
      await t.gql(AuditTargetsDocument, { first: 100 }, admin.accessToken),
    );
    expect(
      after.auditLog.nodes.filter((e) => [victim.id, MISSING_ID, 'abc'].includes(e.targetId!)),
    ).toHaveLength(1);
  });

  it('an admin’s own task mutations stay scoped to the admin’s tasks', async () => {
    const res = await t.gql(
      UpdateTaskDocument,
      { id: bobTasks[0]!.id, input: { title: 'admin edit' } },
      admin.accessToken,
    );
    expectErrorCode(res, 'NOT_FOUND');
    expect((await get(bob, bobTasks[0]!.id)).title).toBe(bobTasks[0]!.title);
  });
});
