import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, untyped } from '../helpers/graphql';
import {
  CreateTaskDocument,
  TaskEndCursorDocument,
  TaskIdsAfterDocument,
  TaskIdsDocument,
  UpdateTaskDocument,
} from '../helpers/graphql-types';
import type { SeededUser } from '../helpers/seed';
import { FAST_HASHING, expectBadInput, taskCalls, taskCount, type TaskView } from './task-fixtures';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp(FAST_HASHING);
});
afterAll(async () => {
  await t.close();
});
const { create, get } = taskCalls(() => t);

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
    expectBadInput(await t.gql(untyped(CreateTaskDocument), { input }, u.accessToken), field);
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
    [
      'a variable without its title',
      untyped(CreateTaskDocument),
      { input: { description: 'no title' } },
    ],
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
    expectBadInput(
      await t.gql(untyped(UpdateTaskDocument), { id: task.id, input }, u.accessToken),
      field,
    );
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
    const res = await t.gql(untyped(TaskIdsDocument), args, u.accessToken);
    const err = expectBadInput(res, field);
    expect(err.message).toContain(field === 'dueBefore' ? 'dueAfter' : field);
  });

  it('refuses a cursor made for another ordering', async () => {
    await create(u, { title: 'Second' });
    const page = expectNoErrors(
      await t.gql(
        TaskEndCursorDocument,
        { first: 1, orderBy: { field: 'PRIORITY', direction: 'ASC' } },
        u.accessToken,
      ),
    );
    const cursor = page.tasks.pageInfo.endCursor as string;
    expect(typeof cursor).toBe('string');
    for (const orderBy of [
      { field: 'PRIORITY', direction: 'DESC' },
      { field: 'CREATED_AT', direction: 'ASC' },
      null,
    ] as const) {
      const res = await t.gql(
        TaskIdsAfterDocument,
        { first: 1, after: cursor, orderBy },
        u.accessToken,
      );
      expectBadInput(res, 'after');
    }
    // The same cursor in its own ordering is fine.
    expectNoErrors(
      await t.gql(
        TaskIdsAfterDocument,
        { first: 1, after: cursor, orderBy: { field: 'PRIORITY', direction: 'ASC' } },
        u.accessToken,
      ),
    );
  });

  it('refuses a well-formed cursor whose key is not a real time (crafted by hand)', async () => {
    const page = expectNoErrors(await t.gql(TaskEndCursorDocument, { first: 1 }, u.accessToken));
    const [order, key, id] = JSON.parse(
      Buffer.from(page.tasks.pageInfo.endCursor as string, 'base64url').toString('utf8'),
    ) as [string, string, string];
    expect(order).toBe('CREATED_AT:DESC');
    // The genuine cursor works; the same cursor with an impossible time is bad input, not a 500.
    const run = (k: string) =>
      t.gql(
        TaskIdsAfterDocument,
        { first: 1, after: Buffer.from(JSON.stringify([order, k, id])).toString('base64url') },
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
