import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors } from '../helpers/graphql';
import { unique, type SeededUser } from '../helpers/seed';
import {
  createTasks,
  expectBadInput,
  sleep,
  TASK_FIELDS,
  taskCount,
  type TaskView,
  FAST_HASHING,
} from './task-fixtures';

const CREATE = `mutation($input: CreateTaskInput!) { createTask(input: $input) { ${TASK_FIELDS} } }`;
const GET = `query($id: ID!) { task(id: $id) { ${TASK_FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { ${TASK_FIELDS} } }`;
const DELETE = `mutation($id: ID!) { deleteTask(id: $id) }`;
const ADMIN_DELETE = `mutation($id: ID!) { adminDeleteTask(id: $id) }`;
const MISSING_ID = '00000000-0000-4000-8000-000000000000';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp(FAST_HASHING);
});
afterAll(async () => {
  await t.close();
});

async function create(user: SeededUser, input: Record<string, unknown>): Promise<TaskView> {
  return expectNoErrors(await t.gql<{ createTask: TaskView }>(CREATE, { input }, user.accessToken))
    .createTask;
}
async function get(user: SeededUser, id: string): Promise<TaskView> {
  const task = expectNoErrors(await t.gql<{ task: TaskView }>(GET, { id }, user.accessToken)).task;
  expect(task).not.toBeNull();
  return task;
}
async function update(
  user: SeededUser,
  id: string,
  input: Record<string, unknown>,
): Promise<TaskView> {
  return expectNoErrors(
    await t.gql<{ updateTask: TaskView }>(UPDATE, { id, input }, user.accessToken),
  ).updateTask;
}
const ms = (iso: string | null) => (iso === null ? NaN : new Date(iso).getTime());

describe('createTask, task, updateTask, deleteTask', () => {
  it('creates a task with the defaults TODO and MEDIUM, owned by the caller', async () => {
    const u = await t.seed.user();
    const before = Date.now();
    const task = await create(u, { title: '  Write the report  ' });
    const after = Date.now();
    expect(task).toMatchObject({
      title: 'Write the report',
      description: null,
      status: 'TODO',
      priority: 'MEDIUM',
      dueDate: null,
      completedAt: null,
      owner: { id: u.id },
    });
    expect(ms(task.createdAt)).toBeGreaterThanOrEqual(before);
    expect(ms(task.createdAt)).toBeLessThanOrEqual(after);
    expect(task.updatedAt).toBe(task.createdAt);
    expect(await get(u, task.id)).toEqual(task);
  });

  it('keeps every given field', async () => {
    const u = await t.seed.user();
    const input = {
      title: 'Ship v2',
      description: 'All of it',
      status: 'IN_PROGRESS',
      priority: 'URGENT',
      dueDate: '2031-05-06T07:08:09.123Z',
    };
    const task = await create(u, input);
    expect(task).toMatchObject({ ...input, completedAt: null });
    expect(await get(u, task.id)).toEqual(task);
  });

  it('accepts a title of exactly 200 characters and a description of exactly 10,000', async () => {
    const u = await t.seed.user();
    const task = await create(u, { title: 't'.repeat(200), description: 'd'.repeat(10_000) });
    expect(task.title).toHaveLength(200);
    expect(task.description).toHaveLength(10_000);
  });

  it('sets completedAt when a task is created DONE', async () => {
    const u = await t.seed.user();
    const task = await create(u, { title: 'Already done', status: 'DONE' });
    expect(task.status).toBe('DONE');
    expect(task.completedAt).toBe(task.createdAt);
  });

  it('sets completedAt when a task becomes DONE, keeps it while DONE, clears it when it leaves', async () => {
    const u = await t.seed.user();
    const task = await create(u, { title: 'Lifecycle' });
    await sleep(5);

    const started = await update(u, task.id, { status: 'IN_PROGRESS' });
    expect(started.status).toBe('IN_PROGRESS');
    expect(started.completedAt).toBeNull();
    expect(ms(started.updatedAt)).toBeGreaterThan(ms(task.updatedAt));
    expect(started.createdAt).toBe(task.createdAt);
    await sleep(5);

    const before = Date.now();
    const done = await update(u, task.id, { status: 'DONE' });
    const after = Date.now();
    expect(done.status).toBe('DONE');
    expect(ms(done.completedAt)).toBeGreaterThanOrEqual(before);
    expect(ms(done.completedAt)).toBeLessThanOrEqual(after);
    expect(ms(done.updatedAt)).toBeGreaterThan(ms(started.updatedAt));
    await sleep(5);

    // DONE again, or another change to a DONE task: the completion time stays.
    const again = await update(u, task.id, { status: 'DONE', priority: 'HIGH' });
    expect(again.completedAt).toBe(done.completedAt);
    expect(again.priority).toBe('HIGH');
    const renamed = await update(u, task.id, { title: 'Lifecycle (renamed)' });
    expect(renamed.completedAt).toBe(done.completedAt);
    expect(renamed.status).toBe('DONE');

    const reopened = await update(u, task.id, { status: 'TODO' });
    expect(reopened.status).toBe('TODO');
    expect(reopened.completedAt).toBeNull();
    expect(await get(u, task.id)).toEqual(reopened);
  });

  it('changes only the given fields; null clears description and dueDate; updatedAt moves', async () => {
    const u = await t.seed.user();
    const task = await create(u, {
      title: 'Original',
      description: 'Keep me',
      priority: 'LOW',
      dueDate: '2030-01-01T00:00:00.000Z',
    });
    await sleep(5);
    const retitled = await update(u, task.id, { title: '  New title ' });
    expect(retitled).toEqual({
      ...task,
      title: 'New title',
      updatedAt: retitled.updatedAt,
    });
    expect(ms(retitled.updatedAt)).toBeGreaterThan(ms(task.updatedAt));

    const cleared = await update(u, task.id, { description: null, dueDate: null });
    expect(cleared).toMatchObject({
      title: 'New title',
      description: null,
      dueDate: null,
      priority: 'LOW',
      status: 'TODO',
    });
    expect(await get(u, task.id)).toEqual(cleared);
  });

  it('refuses null for title, status and priority on update, changing nothing', async () => {
    const u = await t.seed.user();
    const task = await create(u, { title: 'Stays', priority: 'HIGH' });
    for (const field of ['title', 'status', 'priority']) {
      expectBadInput(
        await t.gql(UPDATE, { id: task.id, input: { [field]: null } }, u.accessToken),
        field,
      );
    }
    expect(await get(u, task.id)).toEqual(task);
  });

  it('deletes a task and returns its id; it is gone afterwards', async () => {
    const u = await t.seed.user();
    const keep = await create(u, { title: 'Keep' });
    const task = await create(u, { title: 'Doomed' });
    const countBefore = await taskCount(t, u);
    const res = expectNoErrors(await t.gql(DELETE, { id: task.id }, u.accessToken));
    expect(res.deleteTask).toBe(task.id);
    expect(await taskCount(t, u)).toBe(countBefore - 1);
    const gone = expectErrorCode(await t.gql(GET, { id: task.id }, u.accessToken), 'NOT_FOUND');
    expect(gone.message).toBe('Task not found');
    expectErrorCode(await t.gql(DELETE, { id: task.id }, u.accessToken), 'NOT_FOUND');
    expectErrorCode(
      await t.gql(UPDATE, { id: task.id, input: { title: 'x' } }, u.accessToken),
      'NOT_FOUND',
    );
    expect(await get(u, keep.id)).toEqual(keep);
  });
});

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
    ['task', GET, (id) => ({ id })],
    ['updateTask', UPDATE, (id) => ({ id, input: { title: 'Hijacked', status: 'DONE' } })],
    ['deleteTask', DELETE, (id) => ({ id })],
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
      await t.gql(GET, { id: theirs.id.toUpperCase() }, intruder.accessToken),
      'NOT_FOUND',
    );
  });

  it('tasks never lists another user’s tasks', async () => {
    const list = expectNoErrors(
      await t.gql(
        `{ tasks(first: 100) { totalCount nodes { id owner { id } } } }`,
        {},
        intruder.accessToken,
      ),
    );
    expect(list.tasks.totalCount).toBe(1);
    expect(list.tasks.nodes).toHaveLength(1);
    expect(list.tasks.nodes[0].owner.id).toBe(intruder.id);
    const searched = expectNoErrors(
      await t.gql(
        `{ tasks(filter: { search: "Private plan" }) { totalCount nodes { id } } }`,
        {},
        intruder.accessToken,
      ),
    );
    expect(searched.tasks).toEqual({ totalCount: 0, nodes: [] });
    const own = expectNoErrors(
      await t.gql(`{ tasks { totalCount nodes { id } } }`, {}, owner.accessToken),
    );
    expect(own.tasks).toEqual({ totalCount: 1, nodes: [{ id: theirs.id }] });
  });

  it('another user’s tasks are not reachable through user(id); me.tasks lists one’s own', async () => {
    const res = await t.gql(
      `query($id: ID!) { user(id: $id) { tasks { totalCount } } }`,
      { id: owner.id },
      intruder.accessToken,
    );
    expectErrorCode(res, 'FORBIDDEN');
    const me = expectNoErrors(
      await t.gql(`{ me { id tasks { totalCount nodes { id } } } }`, {}, owner.accessToken),
    );
    expect(me.me.tasks).toEqual({ totalCount: 1, nodes: [{ id: theirs.id }] });
  });
});

describe('bad input is refused with BAD_USER_INPUT and nothing is written', () => {
  let u: SeededUser;
  let task: TaskView;
  beforeAll(async () => {
    u = await t.seed.user();
    task = await create(u, { title: 'Existing', description: 'as it was' });
  });

  it.each([
    ['an empty title', { title: '' }, 'title'],
    ['a blank title', { title: '   \t ' }, 'title'],
    ['a title of zero-width characters', { title: '\u200b\ufeff\u2060' }, 'title'],
    ['a title of 201 characters', { title: 'x'.repeat(201) }, 'title'],
    [
      'a description of 10,001 characters',
      { title: 'ok', description: 'd'.repeat(10_001) },
      'description',
    ],
    ['a NUL character in the title', { title: 'a\u0000b' }, 'title'],
    ['an unpaired surrogate in the title', { title: 'a\ud83db' }, 'title'],
    ['a NUL character in the description', { title: 'ok', description: 'x\u0000' }, 'description'],
    ['an unknown status', { title: 'ok', status: 'FINISHED' }, 'status'],
    ['an unknown priority', { title: 'ok', priority: 'CRITICAL' }, 'priority'],
    ['a malformed dueDate', { title: 'ok', dueDate: 'next tuesday' }, 'dueDate'],
    ['a dueDate in year 0', { title: 'ok', dueDate: '0000-01-01T00:00:00Z' }, 'dueDate'],
    ['a dueDate of 31 February', { title: 'ok', dueDate: '2030-02-31T00:00:00Z' }, 'dueDate'],
  ])('createTask refuses %s', async (_what, input, field) => {
    const before = await taskCount(t, u);
    expectBadInput(await t.gql(CREATE, { input }, u.accessToken), field);
    expect(await taskCount(t, u)).toBe(before);
  });

  // The same refused by GraphQL itself, written in the document or missing from a variable.
  it.each([
    [
      'an unknown status',
      `mutation { createTask(input: { title: "ok", status: FINISHED }) { id } }`,
      {},
    ],
    [
      'a string for an enum',
      `mutation { createTask(input: { title: "ok", priority: "HIGH" }) { id } }`,
      {},
    ],
    [
      'a malformed dueDate',
      `mutation { createTask(input: { title: "ok", dueDate: "next" }) { id } }`,
      {},
    ],
    ['a missing title', `mutation { createTask(input: { description: "no title" }) { id } }`, {}],
    ['a variable without its title', CREATE, { input: { description: 'no title' } }],
  ])('createTask refuses %s before anything runs', async (_what, query, vars) => {
    const before = await taskCount(t, u);
    const res = await t.gql(query, vars, u.accessToken);
    expectErrorCode(res, 'BAD_USER_INPUT');
    expect(res.status).toBe(400);
    expect(res.data ?? null).toBeNull();
    expect(await taskCount(t, u)).toBe(before);
  });

  it.each([
    ['an empty title', { title: '' }, 'title'],
    ['a blank title', { title: '  ' }, 'title'],
    ['a title of 201 characters', { title: 'x'.repeat(201) }, 'title'],
    ['a description of 10,001 characters', { description: 'd'.repeat(10_001) }, 'description'],
    ['a NUL character in the title', { title: '\u0000' }, 'title'],
    ['a NUL character in the description', { description: 'a\u0000b' }, 'description'],
    ['an unknown status', { status: 'ARCHIVED' }, 'status'],
  ])('updateTask refuses %s and leaves the task as it was', async (_what, input, field) => {
    expectBadInput(await t.gql(UPDATE, { id: task.id, input }, u.accessToken), field);
    expect(await get(u, task.id)).toEqual(task);
  });

  it.each([
    ['first: 0', { first: 0 }, 'first'],
    ['first: 101', { first: 101 }, 'first'],
    ['first: -1', { first: -1 }, 'first'],
    ['a malformed cursor', { after: 'zzz' }, 'after'],
    ['a cursor that is not base64', { after: '!!not a cursor!!' }, 'after'],
    [
      'dueAfter equal to dueBefore',
      { filter: { dueAfter: '2030-01-01T00:00:00Z', dueBefore: '2030-01-01T00:00:00Z' } },
      'dueAfter',
    ],
    [
      'dueAfter after dueBefore',
      { filter: { dueAfter: '2030-01-02T00:00:00Z', dueBefore: '2030-01-01T00:00:00Z' } },
      'dueBefore',
    ],
    ['an empty search', { filter: { search: '' } }, 'search'],
    ['a search with a NUL character', { filter: { search: 'a\u0000' } }, 'search'],
    ['a search of 201 characters', { filter: { search: 's'.repeat(201) } }, 'search'],
    ['an unknown status in the filter', { filter: { status: ['OPEN'] } }, 'status'],
  ])('tasks refuses %s', async (_what, args, field) => {
    const res = await t.gql(
      `query($first: Int, $after: String, $filter: TaskFilter) {
        tasks(first: $first, after: $after, filter: $filter) { totalCount nodes { id } }
      }`,
      args,
      u.accessToken,
    );
    const err = expectBadInput(res, field);
    expect(err.message).toContain(field === 'dueBefore' ? 'dueAfter' : field);
  });

  it('refuses a cursor made for another ordering', async () => {
    await create(u, { title: 'Second' });
    const page = expectNoErrors(
      await t.gql(
        `{ tasks(first: 1, orderBy: { field: PRIORITY, direction: ASC }) { pageInfo { endCursor } } }`,
        {},
        u.accessToken,
      ),
    );
    const cursor = page.tasks.pageInfo.endCursor as string;
    expect(typeof cursor).toBe('string');
    for (const orderBy of [
      { field: 'PRIORITY', direction: 'DESC' },
      { field: 'CREATED_AT', direction: 'ASC' },
      null,
    ]) {
      const res = await t.gql(
        `query($after: String, $orderBy: TaskOrder) {
          tasks(first: 1, after: $after, orderBy: $orderBy) { nodes { id } }
        }`,
        { after: cursor, orderBy },
        u.accessToken,
      );
      expectBadInput(res, 'after');
    }
    // The same cursor in its own ordering is fine.
    expectNoErrors(
      await t.gql(
        `query($after: String) {
          tasks(first: 1, after: $after, orderBy: { field: PRIORITY, direction: ASC }) { nodes { id } }
        }`,
        { after: cursor },
        u.accessToken,
      ),
    );
  });

  it('refuses a well-formed cursor whose key is not a real time (crafted by hand)', async () => {
    const page = expectNoErrors(
      await t.gql(`{ tasks(first: 1) { pageInfo { endCursor } } }`, {}, u.accessToken),
    );
    const [order, key, id] = JSON.parse(
      Buffer.from(page.tasks.pageInfo.endCursor as string, 'base64url').toString('utf8'),
    ) as [string, string, string];
    expect(order).toBe('CREATED_AT:DESC');
    // The genuine cursor works; the same cursor with an impossible time is bad input, not a 500.
    const run = (k: string) =>
      t.gql(
        `query($after: String) { tasks(first: 1, after: $after) { nodes { id } } }`,
        { after: Buffer.from(JSON.stringify([order, k, id])).toString('base64url') },
        u.accessToken,
      );
    expectNoErrors(await run(key));
    for (const bad of [
      '2030-13-01 00:00:00+00',
      '2030-02-31 00:00:00+00',
      '0000-01-01 00:00:00+00',
      '2030-01-01 24:00:00+00',
      "2030-01-01'; select 1; --",
    ]) {
      expectBadInput(await run(bad), 'after');
    }
  });

  it('refuses a malformed cursor even when only totalCount is asked for', async () => {
    const err = expectBadInput(
      await t.gql(`{ tasks(after: "zzz") { totalCount } }`, {}, u.accessToken),
      'after',
    );
    expect(err.message).toBe('after is not a valid cursor for this list');
  });

  it('a bad cursor in one list does not fail a valid list beside it', async () => {
    const res = await t.gql(
      `{ good: tasks(first: 5) { totalCount nodes { id } } bad: tasks(after: "zzz") { nodes { id } } }`,
      {},
      u.accessToken,
    );
    expectErrorCode(res, 'BAD_USER_INPUT');
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0]!.path).toEqual(['bad']);
  });
});

describe('anonymous callers', () => {
  it.each([
    ['task', GET, { id: MISSING_ID }],
    ['tasks', `{ tasks { totalCount } }`, {}],
    ['createTask', CREATE, { input: { title: 'anon' } }],
    ['updateTask', UPDATE, { id: MISSING_ID, input: { title: 'anon' } }],
    ['deleteTask', DELETE, { id: MISSING_ID }],
    ['allTasks', `{ allTasks { totalCount } }`, {}],
    ['adminDeleteTask', ADMIN_DELETE, { id: MISSING_ID }],
  ])('are refused %s with UNAUTHENTICATED', async (_name, query, vars) => {
    const res = await t.gql(query, vars);
    expectErrorCode(res, 'UNAUTHENTICATED');
    expect(res.errors).toHaveLength(1);
    // task is nullable, so its data is { task: null }; every other field is non-null.
    expect(Object.values(res.data ?? {}).every((v) => v === null)).toBe(true);
  });

  it('cannot create a task, and a garbage token cannot either', async () => {
    const u = await t.seed.user();
    const title = unique('anon');
    expectErrorCode(await t.gql(CREATE, { input: { title } }), 'UNAUTHENTICATED');
    expectErrorCode(await t.gql(CREATE, { input: { title } }, 'garbage'), 'UNAUTHENTICATED');
    const admin = await t.seed.admin();
    const all = expectNoErrors(
      await t.gql(
        `query($s: String) { allTasks(filter: { search: $s }) { totalCount } }`,
        { s: title },
        admin.accessToken,
      ),
    );
    expect(all.allTasks.totalCount).toBe(0);
    expect(await taskCount(t, u)).toBe(0);
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
      [CREATE, { input: { title: 'by reader' } }],
      [UPDATE, { id: task.id, input: { title: 'by reader' } }],
      [DELETE, { id: task.id }],
    ] as const) {
      const err = expectErrorCode(await t.gql(query, vars, reader.secret), 'FORBIDDEN');
      expect(err.extensions?.requiredScope).toBe('TASKS_WRITE');
    }
    expect(await get(u, task.id)).toEqual(task);

    const made = expectNoErrors(
      await t.gql<{ createTask: TaskView }>(
        CREATE,
        { input: { title: 'by writer' } },
        writer.secret,
      ),
    ).createTask;
    expect(made.owner.id).toBe(u.id);
    for (const [query, vars] of [
      [GET, { id: task.id }],
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
    expectErrorCode(await t.gql(ADMIN_DELETE, { id: victim.id }, key.secret), 'FORBIDDEN');
    const still = expectNoErrors(
      await t.gql(
        `query($id: ID!) { allTasks(ownerId: $id) { nodes { id } } }`,
        { id: owner.id },
        admin.accessToken,
      ),
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

  const ALL = `query($ownerId: ID, $filter: TaskFilter, $first: Int) {
    allTasks(ownerId: $ownerId, filter: $filter, first: $first) {
      totalCount nodes { id title owner { id } }
    }
  }`;

  it('allTasks lists every owner’s tasks, newest first', async () => {
    const res = expectNoErrors(await t.gql(ALL, { filter: { search: token } }, admin.accessToken));
    expect(res.allTasks.totalCount).toBe(3);
    expect(res.allTasks.nodes.map((n: TaskView) => n.id)).toEqual(
      [...annTasks, ...bobTasks]
        .sort((a, b) =>
          a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1,
        )
        .map((x) => x.id),
    );
    const owners = new Set(res.allTasks.nodes.map((n: TaskView) => n.owner.id));
    expect(owners).toEqual(new Set([ann.id, bob.id]));
  });

  it('allTasks with ownerId lists only that owner’s tasks', async () => {
    const res = expectNoErrors(await t.gql(ALL, { ownerId: ann.id }, admin.accessToken));
    expect(res.allTasks.totalCount).toBe(2);
    expect(res.allTasks.nodes.map((n: TaskView) => n.id).sort()).toEqual(
      annTasks.map((x) => x.id).sort(),
    );
    expect(res.allTasks.nodes.every((n: TaskView) => n.owner.id === ann.id)).toBe(true);
    const filtered = expectNoErrors(
      await t.gql(ALL, { ownerId: bob.id, filter: { status: ['DONE'] } }, admin.accessToken),
    );
    expect(filtered.allTasks.nodes.map((n: TaskView) => n.id)).toEqual([bobTasks[0]!.id]);
    const none = expectNoErrors(await t.gql(ALL, { ownerId: MISSING_ID }, admin.accessToken));
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
      const res: Record<string, any> = expectNoErrors(
        await t.gql(
          `query($s: String, $after: String) {
            allTasks(first: 1, after: $after, filter: { search: $s },
                     orderBy: { field: PRIORITY, direction: DESC }) {
              totalCount nodes { id } pageInfo { hasNextPage endCursor }
            }
          }`,
          { s: token, after },
          admin.accessToken,
        ),
      );
      expect(res.allTasks.totalCount).toBe(3);
      seen.push(...res.allTasks.nodes.map((n: { id: string }) => n.id));
      expect(res.allTasks.pageInfo.hasNextPage).toBe(i < 2);
      after = res.allTasks.pageInfo.endCursor;
    }
    expect(seen).toEqual(expected);
  });

  it('allTasks refuses a malformed ownerId and bad paging like tasks does', async () => {
    const err = expectBadInput(await t.gql(ALL, { ownerId: 'abc' }, admin.accessToken), 'ownerId');
    expect(err.message).toBe('ownerId is not a valid id');
    expectBadInput(await t.gql(ALL, { first: 101 }, admin.accessToken), 'first');
    expectBadInput(
      await t.gql(`{ allTasks(after: "zzz") { nodes { id } } }`, {}, admin.accessToken),
      'after',
    );
  });

  it('allTasks is refused to a normal user with FORBIDDEN', async () => {
    const res = await t.gql(ALL, { filter: { search: token } }, ann.accessToken);
    expectErrorCode(res, 'FORBIDDEN');
    expect(res.data ?? null).toBeNull();
    const own = await t.gql(ALL, { ownerId: ann.id }, ann.accessToken);
    expectErrorCode(own, 'FORBIDDEN');
  });

  it('adminDeleteTask is refused to a normal user, even on their own task; nothing is deleted', async () => {
    for (const id of [bobTasks[0]!.id, annTasks[0]!.id]) {
      const res = await t.gql(ADMIN_DELETE, { id }, ann.accessToken);
      expectErrorCode(res, 'FORBIDDEN');
      expect(res.data ?? null).toBeNull();
    }
    expect((await get(bob, bobTasks[0]!.id)).id).toBe(bobTasks[0]!.id);
    expect((await get(ann, annTasks[0]!.id)).id).toBe(annTasks[0]!.id);
  });

  it('adminDeleteTask deletes anyone’s task and writes an audit entry', async () => {
    const victim = annTasks[1]!;
    const res = expectNoErrors(await t.gql(ADMIN_DELETE, { id: victim.id }, admin.accessToken));
    expect(res.adminDeleteTask).toBe(victim.id);
    expectErrorCode(await t.gql(GET, { id: victim.id }, ann.accessToken), 'NOT_FOUND');
    expect(await taskCount(t, ann)).toBe(1);

    const log = expectNoErrors(
      await t.gql(
        `{ auditLog(first: 100) { nodes { action targetType targetId details actor { id } } } }`,
        {},
        admin.accessToken,
      ),
    );
    const entries = log.auditLog.nodes.filter(
      (e: { targetId: string }) => e.targetId === victim.id,
    );
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
      expectErrorCode(await t.gql(ADMIN_DELETE, { id }, admin.accessToken), 'NOT_FOUND');
    }
    expectErrorCode(await t.gql(ADMIN_DELETE, { id: 'abc' }, admin.accessToken), 'BAD_USER_INPUT');
    const after = expectNoErrors(
      await t.gql(`{ auditLog(first: 100) { nodes { targetId } } }`, {}, admin.accessToken),
    );
    expect(
      after.auditLog.nodes.filter((e: { targetId: string }) =>
        [victim.id, MISSING_ID, 'abc'].includes(e.targetId),
      ),
    ).toHaveLength(1);
  });

  it('an admin’s own task mutations stay scoped to the admin’s tasks', async () => {
    const res = await t.gql(
      UPDATE,
      { id: bobTasks[0]!.id, input: { title: 'admin edit' } },
      admin.accessToken,
    );
    expectErrorCode(res, 'NOT_FOUND');
    expect((await get(bob, bobTasks[0]!.id)).title).toBe(bobTasks[0]!.title);
  });
});
