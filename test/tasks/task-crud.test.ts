import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, untyped } from '../helpers/graphql';
import {
  AdminDeleteTaskDocument,
  AllTaskCountDocument,
  CreateTaskDocument,
  DeleteTaskDocument,
  TaskDocument,
  UpdateTaskDocument,
  type CreateTaskInput,
} from '../helpers/graphql-types';
import { unique } from '../helpers/seed';
import {
  FAST_HASHING,
  MISSING_ID,
  expectBadInput,
  ms,
  sleep,
  taskCalls,
  taskCount,
} from './task-fixtures';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp(FAST_HASHING);
});
afterAll(async () => {
  await t.close();
});
const { create, get, update } = taskCalls(() => t);

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
    const input: CreateTaskInput = {
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

  it('applies concurrent updates of one task one after the other: completedAt only while DONE', async () => {
    const u = await t.seed.user();
    const statuses = ['DONE', 'IN_PROGRESS', 'DONE', 'TODO'] as const;
    for (let trial = 0; trial < 8; trial += 1) {
      const task = await create(u, { title: unique('race') });
      // Sent together: each reads the row, and an unlocked read lets each write only what
      // differed from the same old row.
      const views = await Promise.all(
        statuses.map((status, i) =>
          update(u, task.id, { status, priority: i % 2 ? 'LOW' : 'HIGH' }),
        ),
      );
      const final = await get(u, task.id);
      expect(final.completedAt === null).toBe(final.status !== 'DONE');
      // The last one applied is what the row holds: one of the answers, whole.
      expect(views).toContainEqual(final);
    }
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
        await t.gql(UpdateTaskDocument, { id: task.id, input: { [field]: null } }, u.accessToken),
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
    const res = expectNoErrors(await t.gql(DeleteTaskDocument, { id: task.id }, u.accessToken));
    expect(res.deleteTask).toBe(task.id);
    expect(await taskCount(t, u)).toBe(countBefore - 1);
    const gone = expectErrorCode(
      await t.gql(TaskDocument, { id: task.id }, u.accessToken),
      'NOT_FOUND',
    );
    expect(gone.message).toBe('Task not found');
    expectErrorCode(await t.gql(DeleteTaskDocument, { id: task.id }, u.accessToken), 'NOT_FOUND');
    expectErrorCode(
      await t.gql(UpdateTaskDocument, { id: task.id, input: { title: 'x' } }, u.accessToken),
      'NOT_FOUND',
    );
    expect(await get(u, keep.id)).toEqual(keep);
  });
});

describe('anonymous callers', () => {
  it.each([
    ['task', untyped(TaskDocument), { id: MISSING_ID }],
    ['tasks', `{ tasks { totalCount } }`, {}],
    ['createTask', untyped(CreateTaskDocument), { input: { title: 'anon' } }],
    ['updateTask', untyped(UpdateTaskDocument), { id: MISSING_ID, input: { title: 'anon' } }],
    ['deleteTask', untyped(DeleteTaskDocument), { id: MISSING_ID }],
    ['allTasks', `{ allTasks { totalCount } }`, {}],
    ['adminDeleteTask', untyped(AdminDeleteTaskDocument), { id: MISSING_ID }],
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
    expectErrorCode(await t.gql(CreateTaskDocument, { input: { title } }), 'UNAUTHENTICATED');
    expectErrorCode(
      await t.gql(CreateTaskDocument, { input: { title } }, 'garbage'),
      'UNAUTHENTICATED',
    );
    const admin = await t.seed.admin();
    const all = expectNoErrors(await t.gql(AllTaskCountDocument, { s: title }, admin.accessToken));
    expect(all.allTasks.totalCount).toBe(0);
    expect(await taskCount(t, u)).toBe(0);
  });
});
