import { expect } from '@jest/globals';
import type { TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, type GraphQLResponse } from '../helpers/graphql';
import type { SeededUser } from '../helpers/seed';

export type Status = 'TODO' | 'IN_PROGRESS' | 'DONE';
export type Priority = 'LOW' | 'MEDIUM' | 'HIGH' | 'URGENT';

export interface TaskView {
  id: string;
  title: string;
  description: string | null;
  status: Status;
  priority: Priority;
  dueDate: string | null;
  completedAt: string | null;
  createdAt: string;
  updatedAt: string;
  owner: { id: string };
}

export interface TaskInput {
  title: string;
  description?: string | null;
  status?: Status;
  priority?: Priority;
  dueDate?: string | null;
}

export const TASK_FIELDS = `id title description status priority dueDate completedAt createdAt updatedAt owner { id }`;

/** Under the server's alias limit (30). */
const BATCH = 25;

/**
 * Creates tasks in order through the public API, several per request (aliased mutations run
 * one after the other), and returns them as the API answered.
 */
export async function createTasks(
  t: TestApp,
  user: SeededUser,
  inputs: TaskInput[],
): Promise<TaskView[]> {
  const created: TaskView[] = [];
  for (let start = 0; start < inputs.length; start += BATCH) {
    const chunk = inputs.slice(start, start + BATCH);
    const vars = chunk.map((_, i) => `$i${i}: CreateTaskInput!`).join(', ');
    const fields = chunk
      .map((_, i) => `t${i}: createTask(input: $i${i}) { ${TASK_FIELDS} }`)
      .join('\n');
    const variables = Object.fromEntries(chunk.map((input, i) => [`i${i}`, input]));
    const data = expectNoErrors(
      await t.gql<Record<string, TaskView>>(
        `mutation(${vars}) { ${fields} }`,
        variables,
        user.accessToken,
      ),
    );
    chunk.forEach((_, i) => created.push(data[`t${i}`]!));
  }
  return created;
}

/** The caller's task count, optionally under a filter. */
export async function taskCount(
  t: TestApp,
  user: SeededUser,
  filter: Record<string, unknown> | null = null,
): Promise<number> {
  const data = expectNoErrors(
    await t.gql<{ tasks: { totalCount: number } }>(
      `query($f: TaskFilter) { tasks(filter: $f) { totalCount } }`,
      { f: filter },
      user.accessToken,
    ),
  );
  return data.tasks.totalCount;
}

/**
 * A BAD_USER_INPUT error whose `extensions.fields` names `field`: bare or as a path's end
 * (`filter.search`), list indexes aside (`status[0]`).
 */
export function expectBadInput(res: GraphQLResponse<unknown>, field: string) {
  const err = expectErrorCode(res, 'BAD_USER_INPUT');
  const fields = ((err.extensions?.fields ?? []) as string[]).map((f) => f.replace(/\[\d+\]/g, ''));
  expect(fields.some((f) => f === field || f.endsWith(`.${field}`))).toBe(true);
  expect(res.data ?? null).toBeNull();
  return err;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const PRIORITY_RANK: Record<Priority, number> = { LOW: 0, MEDIUM: 1, HIGH: 2, URGENT: 3 };

/**
 * Config for these files' apps: no password rule is under test here, and cheap bcrypt hashes
 * keep the many registrations of the fixtures fast (logins still verify at any cost).
 */
export const FAST_HASHING = { bcryptCost: 4 };

export const CREATE = `mutation($input: CreateTaskInput!) { createTask(input: $input) { ${TASK_FIELDS} } }`;
export const GET = `query($id: ID!) { task(id: $id) { ${TASK_FIELDS} } }`;
export const UPDATE = `mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { ${TASK_FIELDS} } }`;
export const DELETE = `mutation($id: ID!) { deleteTask(id: $id) }`;
export const ADMIN_DELETE = `mutation($id: ID!) { adminDeleteTask(id: $id) }`;
export const MISSING_ID = '00000000-0000-4000-8000-000000000000';

/**
 * createTask, task (which must be found) and updateTask as `user`, each answering the task. The
 * app is looked up at each call: test files start theirs in a `beforeAll`.
 */
export function taskCalls(app: () => TestApp) {
  return {
    async create(user: SeededUser, input: Record<string, unknown>): Promise<TaskView> {
      return expectNoErrors(
        await app().gql<{ createTask: TaskView }>(CREATE, { input }, user.accessToken),
      ).createTask;
    },
    async get(user: SeededUser, id: string): Promise<TaskView> {
      const task = expectNoErrors(
        await app().gql<{ task: TaskView }>(GET, { id }, user.accessToken),
      ).task;
      expect(task).not.toBeNull();
      return task;
    },
    async update(user: SeededUser, id: string, input: Record<string, unknown>): Promise<TaskView> {
      return expectNoErrors(
        await app().gql<{ updateTask: TaskView }>(UPDATE, { id, input }, user.accessToken),
      ).updateTask;
    },
  };
}

/** An ISO time in milliseconds; NaN for null. */
export const ms = (iso: string | null) => (iso === null ? NaN : new Date(iso).getTime());
