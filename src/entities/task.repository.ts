import { EntityRepository } from '@mikro-orm/postgresql';
import { OrderDirection, TaskOrderField, type TaskPriority, type TaskStatus } from './enums';
import { Task } from './task.entity';
import { toPlain } from '../lib/rows';
import {
  decodeCursor,
  encodeCursor,
  escapeLike,
  TIMESTAMP_KEY,
  toPage,
  type Page,
} from '../lib/pagination';
import { uuidArray } from '../lib/ids';
import { toGraphQLInt } from '../lib/numbers';
import { query as run } from '../db/query';

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

/** Each ordering: its SQL key (an indexed expression), its type for the cursor, its key shape. */
const ORDER_KEYS: Record<TaskOrderField, { sql: string; cast: string; pattern: RegExp }> = {
  CREATED_AT: { sql: 't.created_at', cast: 'timestamptz', pattern: TIMESTAMP_KEY },
  UPDATED_AT: { sql: 't.updated_at', cast: 'timestamptz', pattern: TIMESTAMP_KEY },
  DUE_DATE: {
    sql: `coalesce(t.due_date, 'infinity'::timestamptz)`,
    cast: 'timestamptz',
    pattern: TIMESTAMP_KEY,
  },
  PRIORITY: { sql: 't.priority', cast: 'task_priority', pattern: /^(LOW|MEDIUM|HIGH|URGENT)$/ },
};

function orderName(order: TaskOrderValues): string {
  return `${order.field}:${order.direction}`;
}

/**
 * Reads `after` for `order`; BAD_USER_INPUT on `after` if it is malformed or was made for
 * another ordering. Services call it before building a connection, so that a bad cursor is
 * refused whatever fields are asked for, and never fails a batch of other lists.
 */
export function decodeTaskCursor(order: TaskOrderValues, after: string | null | undefined) {
  return decodeCursor(after, orderName(order), ORDER_KEYS[order.field].pattern);
}

type Row = Record<string, unknown> & { sort_key: string; id: string; owner_id: string };

/**
 * Task pages by keyset: `(sort key, id)` compared as a row, so paging neither skips nor repeats
 * rows, and each ordering is served by an index that leads with the owner.
 */
export class TaskRepository extends EntityRepository<Task> {
  private filterSql(filter: TaskFilterValues | null | undefined, params: unknown[]): string[] {
    const where: string[] = [];
    if (!filter) return where;
    if (filter.status?.length) {
      where.push(`t.status = any(?::task_status[])`);
      params.push(`{${filter.status.join(',')}}`);
    }
    if (filter.priority?.length) {
      where.push(`t.priority = any(?::task_priority[])`);
      params.push(`{${filter.priority.join(',')}}`);
    }
    if (filter.search) {
      const pattern = `%${escapeLike(filter.search)}%`;
      where.push(`(t.title ilike ? or t.description ilike ?)`);
      params.push(pattern, pattern);
    }
    if (filter.dueBefore) {
      where.push(`t.due_date < ?`);
      params.push(filter.dueBefore);
    }
    if (filter.dueAfter) {
      where.push(`t.due_date > ?`);
      params.push(filter.dueAfter);
    }
    return where;
  }

  /**
   * One page for each owner in `ownerIds` (or of every task when null), in one statement:
   * a single owner or all tasks use ORDER BY … LIMIT; several owners a window per owner.
   */
  async pages(
    ownerIds: string[] | null,
    query: TaskPageQuery,
  ): Promise<Map<string | null, Page<Task>>> {
    const key = ORDER_KEYS[query.order.field];
    const cursor = decodeTaskCursor(query.order, query.after);
    const params: unknown[] = [];
    const where: string[] = [];
    if (ownerIds) {
      if (ownerIds.length === 1) {
        where.push('t.owner_id = ?');
        params.push(ownerIds[0]);
      } else {
        where.push('t.owner_id = any(?::uuid[])');
        params.push(uuidArray(ownerIds));
      }
    }
    where.push(...this.filterSql(query.filter, params));
    const desc = query.order.direction === OrderDirection.DESC;
    if (cursor) {
      where.push(`(${key.sql}, t.id) ${desc ? '<' : '>'} (?::${key.cast}, ?::uuid)`);
      params.push(cursor.key, cursor.id);
    }
    const dir = desc ? 'desc' : 'asc';
    const whereSql = where.length ? `where ${where.join(' and ')}` : '';
    const limit = query.first + 1;
    let sql: string;
    if (ownerIds && ownerIds.length > 1) {
      sql = `select * from (
          select t.*, (${key.sql})::text as sort_key,
                 row_number() over (partition by t.owner_id order by ${key.sql} ${dir}, t.id ${dir}) as rn
            from tasks t ${whereSql}) ranked
        where rn <= ? order by owner_id, rn`;
    } else {
      sql = `select t.*, (${key.sql})::text as sort_key from tasks t ${whereSql}
        order by ${key.sql} ${dir}, t.id ${dir} limit ?`;
    }
    params.push(limit);
    const rows: Row[] = await run(this.getEntityManager(), sql, params);
    const byOwner = new Map<string | null, Row[]>();
    for (const row of rows) {
      const owner = ownerIds ? row.owner_id : null;
      let list = byOwner.get(owner);
      if (!list) byOwner.set(owner, (list = []));
      list.push(row);
    }
    const result = new Map<string | null, Page<Task>>();
    for (const owner of ownerIds ?? [null]) {
      const ownRows = byOwner.get(owner) ?? [];
      const page = toPage(ownRows, query.first, query.after, (row) =>
        encodeCursor({ order: orderName(query.order), key: row.sort_key, id: row.id }),
      );
      result.set(owner, {
        ...page,
        rows: page.rows.map((row) => {
          const { sort_key: _k, rn: _rn, ...columns } = row;
          return toPlain(this.getEntityManager(), Task, columns);
        }),
      });
    }
    return result;
  }

  /** Task counts for each owner (or of all tasks when null) with the same filter. */
  async counts(
    ownerIds: string[] | null,
    filter: TaskFilterValues | null | undefined,
  ): Promise<Map<string | null, number>> {
    const filterParams: unknown[] = [];
    const filtered = this.filterSql(filter, filterParams);
    // Unfiltered, the counts kept by triggers as tasks come and go (task_counts, one row per
    // owner); filtered, the tasks themselves.
    const [from, n] =
      filtered.length === 0
        ? ['task_counts t', 'coalesce(sum(t.count), 0)']
        : ['tasks t', 'count(*)'];
    // Placeholders in order: the owners' first, then the filter's.
    const where = ownerIds ? ['t.owner_id = any(?::uuid[])', ...filtered] : filtered;
    const params = ownerIds ? [uuidArray(ownerIds), ...filterParams] : filterParams;
    const whereSql = where.length ? `where ${where.join(' and ')}` : '';
    const result = new Map<string | null, number>();
    if (!ownerIds) {
      const rows: { n: string }[] = await run(
        this.getEntityManager(),
        `select ${n} as n from ${from} ${whereSql}`,
        params,
      );
      result.set(null, toGraphQLInt(rows[0]?.n));
      return result;
    }
    const rows: { owner_id: string; n: string }[] = await run(
      this.getEntityManager(),
      `select t.owner_id, ${n} as n from ${from} ${whereSql} group by t.owner_id`,
      params,
    );
    for (const id of ownerIds) result.set(id, 0);
    for (const row of rows) result.set(row.owner_id, toGraphQLInt(row.n));
    return result;
  }
}
