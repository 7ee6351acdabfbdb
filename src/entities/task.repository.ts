import { EntityRepository } from '@mikro-orm/postgresql';
import { OrderDirection, TaskOrderField, type TaskPriority, type TaskStatus } from './enums';
import { Task } from './task.entity';
import { TIMESTAMP_KEY, type Page } from '../lib/pagination';
import { uuidArray } from '../lib/ids';
import { toGraphQLInt } from '../lib/numbers';
import type { ViewerAccount } from '../auth/viewer';
import {
  decodeKeysetCursor,
  keysetPage,
  keysetPageUnder,
  keysetPages,
  type KeptPageUnder,
  type KeysetOrder,
} from '../db/keyset';
import { Coalescer } from '../db/coalesce';
import { query as run } from '../db/query';
import { SqlFilter } from '../db/sql-filter';
import { activeBySessionHead, toViewerAccount, type ViewerAccountRow } from './user.repository';

/** The page functions, whose calls by concurrent requests go together (db/coalesce.ts). */
const PAGE_PARAMETERS = ['uuid', 'uuid', 'int', 'timestamptz', 'uuid'];
const FULL_PAGES = new Coalescer({ name: 'session_tasks_page', types: PAGE_PARAMETERS });
const SLIM_PAGES = new Coalescer({ name: 'session_tasks_page_slim', types: PAGE_PARAMETERS });

/**
 * The call of `session_tasks_page` (migration 20261201120000): the default page (newest first,
 * no filter) of `first` rows after `cursor`, under the session check of `userId`'s `sessionId`.
 */
export function sessionTasksPageCall(
  userId: string,
  sessionId: string,
  first: number,
  cursor: { key: string; id: string } | null,
  slim = false,
): KeptPageUnder {
  const coalescer = slim ? SLIM_PAGES : FULL_PAGES;
  return {
    sql: coalescer.singleStatement,
    params: [sessionId, userId, first + 1, cursor?.key ?? null, cursor?.id ?? null],
    coalescer,
  };
}

/**
 * The task fields `session_tasks_page_slim` answers (migration 20261201140000): the columns it
 * sends, and the owner (the account its check read). A document that asks for any other task
 * field gets every column.
 */
export const SLIM_TASK_FIELDS: ReadonlySet<string> = new Set([
  '__typename',
  'id',
  'title',
  'status',
  'priority',
  'dueDate',
  'createdAt',
  'owner',
]);

export interface TaskFilterValues {
  status?: TaskStatus[] | null;
  priority?: TaskPriority[] | null;
  search?: string | null;
  dueBefore?: Date | null;
  dueAfter?: Date | null;
}

export interface TaskOrderValues {
  field: TaskOrderField;
  direction: OrderDirection;
}

export interface TaskPageQuery {
  filter?: TaskFilterValues | null;
  order: TaskOrderValues;
  first: number;
  after?: string | null;
}

export const DEFAULT_TASK_ORDER: TaskOrderValues = {
  field: TaskOrderField.CREATED_AT,
  direction: OrderDirection.DESC,
};

/** Each ordering's sort key (an indexed expression), its type for the cursor, its key shape. */
const ORDER_KEYS: Record<TaskOrderField, { key: string; cast: string; pattern: RegExp }> = {
  CREATED_AT: { key: 't.created_at', cast: 'timestamptz', pattern: TIMESTAMP_KEY },
  UPDATED_AT: { key: 't.updated_at', cast: 'timestamptz', pattern: TIMESTAMP_KEY },
  DUE_DATE: {
    key: `coalesce(t.due_date, 'infinity'::timestamptz)`,
    cast: 'timestamptz',
    pattern: TIMESTAMP_KEY,
  },
  PRIORITY: { key: 't.priority', cast: 'task_priority', pattern: /^(LOW|MEDIUM|HIGH|URGENT)$/ },
};

function makeKeysetOrder(field: TaskOrderField, direction: OrderDirection): KeysetOrder {
  return Object.freeze({
    ...ORDER_KEYS[field],
    name: `${field}:${direction}`,
    descending: direction === OrderDirection.DESC,
  });
}

/** Every ordering, made once (a page asks for its own twice). */
const KEYSET_ORDERS: Partial<Record<string, Partial<Record<string, KeysetOrder>>>> = {};
for (const field of Object.values(TaskOrderField)) {
  const byDirection: Partial<Record<string, KeysetOrder>> = {};
  for (const direction of Object.values(OrderDirection)) {
    byDirection[direction] = makeKeysetOrder(field, direction);
  }
  KEYSET_ORDERS[field] = byDirection;
}

/** A task ordering as db/keyset.ts reads it (shared and frozen: nothing changes it). */
export function keysetOrder(order: TaskOrderValues): KeysetOrder {
  return (
    KEYSET_ORDERS[order.field]?.[order.direction] ?? makeKeysetOrder(order.field, order.direction)
  );
}

/**
 * Reads `after` for `order`; BAD_USER_INPUT on `after` if it is malformed or was made for
 * another ordering. Services call it before building a connection, so that a bad cursor is
 * refused whatever fields are asked for, and never fails a batch of other lists.
 */
export function decodeTaskCursor(order: TaskOrderValues, after: string | null | undefined) {
  return decodeKeysetCursor(keysetOrder(order), after);
}

function taskFilter(filter: TaskFilterValues | null | undefined): SqlFilter {
  return new SqlFilter()
    .anyOf('t.status', filter?.status, 'task_status')
    .anyOf('t.priority', filter?.priority, 'task_priority')
    .contains(['t.title', 't.description'], filter?.search)
    .given(filter?.dueBefore, 't.due_date < ?')
    .given(filter?.dueAfter, 't.due_date > ?');
}

/** Task pages by keyset (db/keyset.ts) and task counts. */
export class TaskRepository extends EntityRepository<Task> {
  /**
   * One page for each owner in `ownerIds` (or of every task when null), in one statement; each
   * ordering is served by an index that leads with the owner (or, over every task, by its key).
   */
  async pages(
    ownerIds: string[] | null,
    query: TaskPageQuery,
  ): Promise<Map<string | null, Page<Task>>> {
    const q = {
      table: 'tasks',
      filter: taskFilter(query.filter),
      order: keysetOrder(query.order),
      first: query.first,
      after: query.after,
    };
    const em = this.getEntityManager();
    if (!ownerIds) return new Map([[null, await keysetPage(em, Task, q)]]);
    return keysetPages(em, Task, q, 'owner_id', ownerIds);
  }

  /**
   * The session's own page: the session check of a request (users.activeBySession) and the
   * page of its account's tasks in one statement. The page is read only for a live session of
   * an active account; null otherwise. The default page (newest first, no filter) is read
   * through `session_tasks_page` (migration 20261201120000), the same statement with a plan
   * PostgreSQL keeps per connection; `slim` (the caller asks only for SLIM_TASK_FIELDS) through
   * `session_tasks_page_slim`, whose rows carry only those fields' columns: the others read
   * null on this page.
   */
  async sessionPage(
    userId: string,
    sessionId: string,
    query: TaskPageQuery,
    slim = false,
  ): Promise<{ account: ViewerAccount; page: Page<Task> } | null> {
    const filter = taskFilter(query.filter);
    const newestFirst =
      filter.isEmpty &&
      query.order.field === DEFAULT_TASK_ORDER.field &&
      query.order.direction === DEFAULT_TASK_ORDER.direction;
    const cursor = newestFirst ? decodeTaskCursor(query.order, query.after) : null;
    const result = await keysetPageUnder<Task, ViewerAccountRow>(
      this.getEntityManager(),
      Task,
      {
        table: 'tasks',
        filter,
        order: keysetOrder(query.order),
        first: query.first,
        after: query.after,
      },
      'owner_id',
      activeBySessionHead(userId, sessionId),
      newestFirst ? sessionTasksPageCall(userId, sessionId, query.first, cursor, slim) : undefined,
    );
    return result && { account: toViewerAccount(result.head), page: result.page };
  }

  /** Task counts for each owner (or of all tasks when null) with the same filter. */
  async counts(
    ownerIds: string[] | null,
    filter: TaskFilterValues | null | undefined,
  ): Promise<Map<string | null, number>> {
    const filtered = taskFilter(filter);
    // Unfiltered, the counts kept by triggers as tasks come and go (task_counts, one row per
    // owner); filtered, the tasks themselves.
    const [from, n] = filtered.isEmpty
      ? ['task_counts t', 'coalesce(sum(t.count), 0)']
      : ['tasks t', 'count(*)'];
    const where = new SqlFilter();
    if (ownerIds) where.and('t.owner_id = any(?::uuid[])', uuidArray(ownerIds));
    where.andAll(filtered);
    const result = new Map<string | null, number>();
    if (!ownerIds) {
      const rows: { n: string }[] = await run(
        this.getEntityManager(),
        `select ${n} as n from ${from} ${where.sql}`,
        where.params,
      );
      result.set(null, toGraphQLInt(rows[0]?.n));
      return result;
    }
    const rows: { owner_id: string; n: string }[] = await run(
      this.getEntityManager(),
      `select t.owner_id, ${n} as n from ${from} ${where.sql} group by t.owner_id`,
      where.params,
    );
    for (const id of ownerIds) result.set(id, 0);
    for (const row of rows) result.set(row.owner_id, toGraphQLInt(row.n));
    return result;
  }

  /** Every task by status (statuses with none are missing). */
  async countsByStatus(): Promise<Map<TaskStatus, number>> {
    const rows: { status: TaskStatus; n: string }[] = await run(
      this.getEntityManager(),
      `select status, count(*) as n from tasks group by status`,
    );
    return new Map(rows.map((row) => [row.status, toGraphQLInt(row.n)]));
  }
}
