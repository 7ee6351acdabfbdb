import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectNoErrors } from '../helpers/graphql';
import {
  TaskListDocument,
  UpdateTaskDocument,
  type OrderDirection,
  type TaskFilter,
  type TaskListQuery,
  type TaskListQueryVariables,
  type TaskOrderField,
} from '../helpers/graphql-types';
import type { SeededUser } from '../helpers/seed';
import {
  createTasks,
  PRIORITY_RANK,
  sleep,
  type TaskInput,
  type TaskView,
  FAST_HASHING,
} from './task-fixtures';

type Field = TaskOrderField;
type Direction = OrderDirection;
type Connection = TaskListQuery['tasks'];

let t: TestApp;
beforeAll(async () => {
  // Pages through every ordering many times over, descriptions included (50 cost points each):
  // the cost budget has tests of its own.
  t = await startTestApp({
    ...FAST_HASHING,
    costBucketSize: 10_000_000,
    costRestoreRate: 10_000_000,
  });
});
afterAll(async () => {
  await t.close();
});

async function list(user: SeededUser, vars: TaskListQueryVariables): Promise<Connection> {
  const conn = expectNoErrors(await t.gql(TaskListDocument, vars, user.accessToken)).tasks;
  // nodes are the very rows of edges, and the page's cursors are its first and last edge's.
  expect(conn.nodes).toEqual(conn.edges.map((e) => e.node));
  expect(conn.pageInfo.startCursor).toBe(conn.edges[0]?.cursor ?? null);
  expect(conn.pageInfo.endCursor).toBe(conn.edges[conn.edges.length - 1]?.cursor ?? null);
  expect(conn.pageInfo.hasPreviousPage).toBe(vars.after !== undefined && vars.after !== null);
  return conn;
}

const ids = (tasks: { id: string }[]) => tasks.map((x) => x.id);

/** The order the API promises: the field's value, then id, in the same direction. */
function sortKey(field: Field, task: TaskView): number {
  switch (field) {
    case 'CREATED_AT':
      return Date.parse(task.createdAt);
    case 'UPDATED_AT':
      return Date.parse(task.updatedAt);
    case 'DUE_DATE':
      return task.dueDate === null ? Infinity : Date.parse(task.dueDate);
    case 'PRIORITY':
      return PRIORITY_RANK[task.priority];
  }
}
function expectedOrder(tasks: TaskView[], field: Field, direction: Direction): string[] {
  const asc = [...tasks].sort((a, b) => {
    const ka = sortKey(field, a);
    const kb = sortKey(field, b);
    if (ka !== kb) return ka < kb ? -1 : 1;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  return ids(direction === 'ASC' ? asc : asc.reverse());
}

describe('filters', () => {
  let u: SeededUser;
  let all: TaskView[];
  const byTitle = (title: string) => all.find((x) => x.title === title)!.id;

  beforeAll(async () => {
    u = await t.seed.user();
    all = await createTasks(t, u, [
      { title: 'Buy MILK', status: 'TODO', priority: 'LOW', dueDate: '2030-01-10T00:00:00Z' },
      {
        title: 'Call mom',
        description: 'about the milkshake',
        status: 'IN_PROGRESS',
        priority: 'HIGH',
        dueDate: '2030-01-20T00:00:00Z',
      },
      { title: 'Pay rent', status: 'DONE', priority: 'URGENT', dueDate: '2030-01-30T00:00:00Z' },
      { title: '100% done', status: 'DONE', priority: 'MEDIUM' },
      { title: '1000 items', description: 'a100b', priority: 'MEDIUM' },
      { title: 'snake_case name', priority: 'HIGH' },
      { title: 'snakeXcase name', priority: 'URGENT' },
      { title: 'C:\\temp\\file', priority: 'LOW', dueDate: '2030-01-20T00:00:00Z' },
    ]);
  });

  async function filtered(filter: TaskFilter): Promise<string[]> {
    const conn = await list(u, { first: 100, filter });
    expect(conn.totalCount).toBe(conn.nodes.length);
    expect(conn.pageInfo.hasNextPage).toBe(false);
    return ids(conn.nodes).sort();
  }
  const titles = (...names: string[]) => names.map(byTitle).sort();

  it('without a filter lists all of the caller’s tasks', async () => {
    expect(await filtered({})).toEqual(ids(all).sort());
  });

  it('status: any of the listed statuses', async () => {
    expect(await filtered({ status: ['DONE'] })).toEqual(titles('Pay rent', '100% done'));
    expect(await filtered({ status: ['IN_PROGRESS', 'DONE'] })).toEqual(
      titles('Call mom', 'Pay rent', '100% done'),
    );
    expect(await filtered({ status: ['TODO'] })).toHaveLength(5);
    expect(await filtered({ status: ['TODO', 'IN_PROGRESS', 'DONE'] })).toHaveLength(all.length);
  });

  it('priority: any of the listed priorities', async () => {
    expect(await filtered({ priority: ['URGENT'] })).toEqual(titles('Pay rent', 'snakeXcase name'));
    expect(await filtered({ priority: ['LOW', 'HIGH'] })).toEqual(
      titles('Buy MILK', 'Call mom', 'snake_case name', 'C:\\temp\\file'),
    );
  });

  it('search: case-insensitive, in the title or the description', async () => {
    // "milk" is in one title (upper case) and one description.
    expect(await filtered({ search: 'milk' })).toEqual(titles('Buy MILK', 'Call mom'));
    expect(await filtered({ search: 'MilkShake' })).toEqual(titles('Call mom'));
    expect(await filtered({ search: 'RENT' })).toEqual(titles('Pay rent'));
    expect(await filtered({ search: 'nothing like this' })).toEqual([]);
  });

  it('search: % and _ are literal characters, not wildcards', async () => {
    // As wildcards, "100%" would match "1000 items" and "a100b"; "e_c" would match "eXc".
    expect(await filtered({ search: '100%' })).toEqual(titles('100% done'));
    expect(await filtered({ search: '%' })).toEqual(titles('100% done'));
    expect(await filtered({ search: 'e_c' })).toEqual(titles('snake_case name'));
    expect(await filtered({ search: '_' })).toEqual(titles('snake_case name'));
    expect(await filtered({ search: '\\temp\\' })).toEqual(titles('C:\\temp\\file'));
    expect(await filtered({ search: '100' })).toEqual(titles('100% done', '1000 items'));
  });

  it('dueBefore and dueAfter are strict, and leave out tasks with no due date', async () => {
    expect(await filtered({ dueBefore: '2030-01-20T00:00:00Z' })).toEqual(titles('Buy MILK'));
    expect(await filtered({ dueBefore: '2030-01-20T00:00:00.001Z' })).toEqual(
      titles('Buy MILK', 'Call mom', 'C:\\temp\\file'),
    );
    expect(await filtered({ dueAfter: '2030-01-20T00:00:00Z' })).toEqual(titles('Pay rent'));
    expect(
      await filtered({ dueAfter: '2030-01-09T00:00:00Z', dueBefore: '2030-01-30T00:00:00Z' }),
    ).toEqual(titles('Buy MILK', 'Call mom', 'C:\\temp\\file'));
    expect(await filtered({ dueAfter: '2040-01-01T00:00:00Z' })).toEqual([]);
  });

  it('conditions combine, and totalCount honours the filter on every page', async () => {
    expect(await filtered({ status: ['TODO'], priority: ['HIGH', 'LOW'], search: 'i' })).toEqual(
      titles('Buy MILK', 'C:\\temp\\file'),
    );
    const page = await list(u, { first: 1, filter: { priority: ['MEDIUM', 'URGENT'] } });
    expect(page.totalCount).toBe(4);
    expect(page.nodes).toHaveLength(1);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const next = await list(u, {
      first: 10,
      after: page.pageInfo.endCursor,
      filter: { priority: ['MEDIUM', 'URGENT'] },
    });
    expect(next.totalCount).toBe(4);
    expect(next.nodes).toHaveLength(3);
    expect(next.pageInfo.hasNextPage).toBe(false);
  });
});

describe('ordering and paging', () => {
  let u: SeededUser;
  let tasks: TaskView[];

  beforeAll(async () => {
    u = await t.seed.user();
    // 25 tasks with repeated priorities and due dates, and several without a due date.
    const priorities = ['LOW', 'MEDIUM', 'HIGH', 'URGENT'] as const;
    const dues = [
      null,
      '2030-03-01T00:00:00.000Z',
      '2030-02-01T00:00:00.000Z',
      null,
      '2030-03-01T00:00:00.000Z',
    ];
    const inputs: TaskInput[] = Array.from({ length: 25 }, (_, i) => ({
      title: `task ${String(i).padStart(2, '0')}`,
      priority: priorities[(i * 7) % 4],
      dueDate: dues[i % dues.length],
    }));
    const created = await createTasks(t, u, inputs);
    // Touch a few, one request at a time, so that UPDATED_AT differs from CREATED_AT.
    const touched = new Map<string, TaskView>();
    for (const i of [20, 3, 11, 3, 0]) {
      await sleep(3);
      const res = expectNoErrors(
        await t.gql(
          UpdateTaskDocument,
          { id: created[i]!.id, input: { status: 'IN_PROGRESS' } },
          u.accessToken,
        ),
      );
      touched.set(res.updateTask.id, res.updateTask);
    }
    tasks = created.map((x) => touched.get(x.id) ?? x);
  });

  it('has the ties the orderings must break: on priority and on due date', () => {
    // created_at may tie too, to the millisecond, but need not.
    expect(new Set(tasks.map((x) => x.priority)).size).toBe(4);
    expect(tasks.filter((x) => x.dueDate === null)).toHaveLength(10);
    expect(new Set(tasks.map((x) => x.dueDate)).size).toBe(3);
    expect(tasks.filter((x) => x.updatedAt !== x.createdAt)).toHaveLength(4);
  });

  const orderings: [Field, Direction][] = (
    ['CREATED_AT', 'UPDATED_AT', 'DUE_DATE', 'PRIORITY'] as Field[]
  ).flatMap((field) => (['ASC', 'DESC'] as Direction[]).map((d): [Field, Direction] => [field, d]));

  it.each(orderings)('%s %s: one page of all in the promised order', async (field, direction) => {
    const conn = await list(u, { first: 100, orderBy: { field, direction } });
    expect(conn.totalCount).toBe(25);
    expect(conn.pageInfo.hasNextPage).toBe(false);
    expect(ids(conn.nodes)).toEqual(expectedOrder(tasks, field, direction));
    // Refetched rows equal what the mutations answered.
    expect([...conn.nodes].sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual(
      [...tasks].sort((a, b) => (a.id < b.id ? -1 : 1)),
    );
  });

  it.each(orderings)(
    '%s %s: pages of 7 concatenate to the full order, nothing skipped or repeated',
    async (field, direction) => {
      const seen: string[] = [];
      let after: string | null = null;
      const sizes: number[] = [];
      for (let i = 0; i < 10; i += 1) {
        const page: Connection = await list(u, { first: 7, after, orderBy: { field, direction } });
        expect(page.totalCount).toBe(25);
        sizes.push(page.nodes.length);
        seen.push(...ids(page.nodes));
        after = page.pageInfo.endCursor;
        if (!page.pageInfo.hasNextPage) break;
      }
      expect(sizes).toEqual([7, 7, 7, 4]);
      expect(new Set(seen).size).toBe(25);
      expect(seen).toEqual(expectedOrder(tasks, field, direction));
      // After the last row: an empty page that still knows it came after a cursor.
      const end = await list(u, { first: 7, after, orderBy: { field, direction } });
      expect(end.nodes).toEqual([]);
      expect(end.pageInfo).toEqual({
        hasNextPage: false,
        hasPreviousPage: true,
        startCursor: null,
        endCursor: null,
      });
    },
  );

  it('orders priorities LOW < MEDIUM < HIGH < URGENT, not alphabetically', async () => {
    const conn = await list(u, { first: 100, orderBy: { field: 'PRIORITY', direction: 'ASC' } });
    const seq = conn.nodes.map((x) => x.priority);
    const firstOf = (p: string) => seq.indexOf(p as TaskView['priority']);
    const lastOf = (p: string) => seq.lastIndexOf(p as TaskView['priority']);
    expect(lastOf('LOW')).toBeLessThan(firstOf('MEDIUM'));
    expect(lastOf('MEDIUM')).toBeLessThan(firstOf('HIGH'));
    expect(lastOf('HIGH')).toBeLessThan(firstOf('URGENT'));
  });

  it('DUE_DATE puts tasks without a due date last ascending, first descending', async () => {
    const asc = await list(u, { first: 100, orderBy: { field: 'DUE_DATE', direction: 'ASC' } });
    expect(asc.nodes.slice(-10).every((x) => x.dueDate === null)).toBe(true);
    expect(asc.nodes.slice(0, 15).every((x) => x.dueDate !== null)).toBe(true);
    const desc = await list(u, { first: 100, orderBy: { field: 'DUE_DATE', direction: 'DESC' } });
    expect(desc.nodes.slice(0, 10).every((x) => x.dueDate === null)).toBe(true);
  });

  it('defaults to newest first (CREATED_AT DESC), 20 to a page', async () => {
    const conn = await list(u, {});
    expect(conn.nodes).toHaveLength(20);
    expect(conn.pageInfo.hasNextPage).toBe(true);
    expect(ids(conn.nodes)).toEqual(expectedOrder(tasks, 'CREATED_AT', 'DESC').slice(0, 20));
    const rest = await list(u, { after: conn.pageInfo.endCursor });
    expect(ids(rest.nodes)).toEqual(expectedOrder(tasks, 'CREATED_AT', 'DESC').slice(20));
    // The default order's cursor is the explicit CREATED_AT DESC cursor.
    const explicit = await list(u, {
      after: conn.pageInfo.endCursor,
      orderBy: { field: 'CREATED_AT', direction: 'DESC' },
    });
    expect(ids(explicit.nodes)).toEqual(ids(rest.nodes));
  });

  it('filters and orders together while paging', async () => {
    const filter: TaskFilter = { priority: ['HIGH', 'URGENT'] };
    const matching = tasks.filter((x) => x.priority === 'HIGH' || x.priority === 'URGENT');
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: Connection = await list(u, {
        first: 4,
        after,
        filter,
        orderBy: { field: 'DUE_DATE', direction: 'ASC' },
      });
      expect(page.totalCount).toBe(matching.length);
      seen.push(...ids(page.nodes));
      after = page.pageInfo.endCursor;
      if (!page.pageInfo.hasNextPage) break;
    }
    expect(seen).toEqual(expectedOrder(matching, 'DUE_DATE', 'ASC'));
  });
});
