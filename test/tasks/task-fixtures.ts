import { expect } from '@jest/globals';
import type { TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, type GraphQLResponse } from '../helpers/graphql';
import {
  CreateTaskDocument,
  TaskCountDocument,
  TaskDocument,
  TaskFieldsFragmentDoc,
  UpdateTaskDocument,
  type CreateTaskInput,
  type TaskFieldsFragment,
  type TaskFilter,
  type TaskPriority,
  type UpdateTaskInput,
} from '../helpers/graphql-types';
import type { SeededUser } from '../helpers/seed';

/** A task as the tests select it (fragment TaskFields of test/operations/tasks.graphql). */
export type TaskView = TaskFieldsFragment;
export type TaskInput = CreateTaskInput;

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
      .map((_, i) => `t${i}: createTask(input: $i${i}) { ...TaskFields }`)
      .join('\n');
    const variables = Object.fromEntries(chunk.map((input, i) => [`i${i}`, input]));
    const data = expectNoErrors(
      await t.gql<Record<string, TaskView>>(
        `mutation(${vars}) { ${fields} } ${TaskFieldsFragmentDoc}`,
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
  filter: TaskFilter | null = null,
): Promise<number> {
  const data = expectNoErrors(await t.gql(TaskCountDocument, { f: filter }, user.accessToken));
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

export const PRIORITY_RANK: Record<TaskPriority, number> = {
  LOW: 0,
  MEDIUM: 1,
  HIGH: 2,
  URGENT: 3,
};

/**
 * Config for these files' apps: no password rule is under test here, and cheap bcrypt hashes
 * keep the many registrations of the fixtures fast (logins still verify at any cost).
 */
export const FAST_HASHING = { bcryptCost: 4 };

export const MISSING_ID = '00000000-0000-4000-8000-000000000000';

/**
 * createTask, task (which must be found) and updateTask as `user`, each answering the task. The
 * app is looked up at each call: test files start theirs in a `beforeAll`.
 */
export function taskCalls(app: () => TestApp) {
  return {
    async create(user: SeededUser, input: CreateTaskInput): Promise<TaskView> {
      return expectNoErrors(await app().gql(CreateTaskDocument, { input }, user.accessToken))
        .createTask;
    },
    async get(user: SeededUser, id: string): Promise<TaskView> {
      const task = expectNoErrors(await app().gql(TaskDocument, { id }, user.accessToken)).task;
      expect(task).not.toBeNull();
      return task!;
    },
    async update(user: SeededUser, id: string, input: UpdateTaskInput): Promise<TaskView> {
      return expectNoErrors(await app().gql(UpdateTaskDocument, { id, input }, user.accessToken))
        .updateTask;
    },
  };
}

/** An ISO time in milliseconds; NaN for null. */
export const ms = (iso: string | null) => (iso === null ? NaN : new Date(iso).getTime());
