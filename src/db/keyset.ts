import type { EntityManager } from '@mikro-orm/postgresql';
import { decodeCursor, encodeCursor, TIMESTAMP_KEY, type Page } from '../lib/pagination';
import { uuidArray } from '../lib/ids';
import { toGraphQLInt } from '../lib/numbers';
import { toPlain } from '../lib/rows';
import type { Coalescer } from './coalesce';
import { query } from './query';
import { SqlFilter } from './sql-filter';

/** One ordering of a list, and what its cursors hold. */
export interface KeysetOrder {
  /** Names the ordering inside its cursors (`CREATED_AT:DESC`): a cursor serves only its own. */
  name: string;
  /** The sort key, an expression over `t` that an index serves (with `t.id` after it). */
  key: string;
  /** The key's SQL type, to read a cursor's key back. */
  cast: string;
  /** What a cursor's key must look like: nothing else reaches SQL. */
  pattern: RegExp;
  descending: boolean;
  /** The key alone is unique: it orders and compares without the id. */
  unique?: boolean;
}

/** `(created_at, id)` descending, which every newest-first list has an index for. */
export const NEWEST_FIRST: KeysetOrder = {
  name: 'CREATED_AT:DESC',
  key: 't.created_at',
  cast: 'timestamptz',
  pattern: TIMESTAMP_KEY,
  descending: true,
};

export interface KeysetQuery {
  /** The table, aliased `t`. */
  table: string;
  filter: SqlFilter;
  order: KeysetOrder;
  first: number;
  after: string | null | undefined;
  /** More select-list entries over `t` (and the join), e.g. `(select count(*) …) as n`. */
  columns?: string[];
  /** A join after `from <table> t`, with its parameters. */
  join?: { sql: string; params: readonly unknown[] };
}

type Row = Record<string, unknown> & { id: string; sort_key: string };

/** Reads `after` for `order`: BAD_USER_INPUT on `after` if it is malformed or another order's. */
export function decodeKeysetCursor(order: KeysetOrder, after: string | null | undefined) {
  return decodeCursor(after, order.name, order.pattern);
}

/**
 * The statement of a page (or of one page per value of `partition`): rows after the cursor in
 * `(key, id)` order, compared as a row so that paging neither skips nor repeats rows, one more
 * than asked to tell whether more follow.
 */
function pageStatement(
  q: KeysetQuery,
  partition?: { column: string; ids: readonly string[] } | { column: string; ref: string },
  numbered = false,
) {
  const { order } = q;
  const cursor = decodeKeysetCursor(order, q.after);
  const where = new SqlFilter();
  const ids = partition && 'ids' in partition ? partition.ids : null;
  if (partition && 'ref' in partition) where.and(`t.${partition.column} = ${partition.ref}`);
  else if (ids?.length === 1) where.and(`t.${partition!.column} = ?`, ids[0]);
  else if (ids) where.and(`t.${partition!.column} = any(?::uuid[])`, uuidArray(ids));
  where.andAll(q.filter);
  if (cursor) {
    const op = order.descending ? '<' : '>';
    if (order.unique) where.and(`${order.key} ${op} ?::${order.cast}`, cursor.key);
    else where.and(`(${order.key}, t.id) ${op} (?::${order.cast}, ?::uuid)`, cursor.key, cursor.id);
  }
  const dir = order.descending ? 'desc' : 'asc';
  const orderBy = order.unique ? `${order.key} ${dir}` : `${order.key} ${dir}, t.id ${dir}`;
  const select = [
    `t.*`,
    `(${order.key})::text as sort_key`,
    ...(q.columns ?? []),
    // The page's own order, for a reader that cannot keep it (keysetPageUnder's JSON).
    ...(numbered ? [`row_number() over (order by ${orderBy}) as ord`] : []),
  ].join(', ');
  const from = q.join ? `${q.table} t ${q.join.sql}` : `${q.table} t`;
  const params = [...(q.join?.params ?? []), ...where.params, q.first + 1];
  const sql =
    partition && ids && ids.length > 1
      ? `select * from (
          select ${select}, row_number() over (partition by t.${partition.column} order by ${orderBy}) as rn
            from ${from} ${where.sql}) ranked
        where rn <= ? order by ${partition.column}, rn`
      : `select ${select} from ${from} ${where.sql} order by ${orderBy} limit ?`;
  return { sql, params };
}

/** Splits `limit + 1` fetched rows into a page, each row mapped to a plain `entity`. */
function toPage<T>(
  em: EntityManager,
  entity: new (...args: never[]) => T,
  rows: Row[],
  q: KeysetQuery,
  visit: ((row: Row) => void) | undefined,
): Page<T> {
  const hasNextPage = rows.length > q.first;
  const pageRows = hasNextPage ? rows.slice(0, q.first) : rows;
  if (visit) pageRows.forEach(visit);
  return {
    rows: pageRows.map((row) => toPlain(em, entity, row)),
    cursorAt: (index) => {
      const row = pageRows[index]!;
      return encodeCursor({
        order: q.order.name,
        key: row.sort_key as string,
        id: row.id as string,
      });
    },
    hasNextPage,
    hasPreviousPage: q.after !== null && q.after !== undefined,
  };
}

/**
 * keysetPage's statement kept in the database (a function that runs the same query with a plan
 * PostgreSQL keeps per connection): the same rows, `limit + 1` of them in the page's order,
 * each with its `sort_key`; it may leave out columns the caller does not read.
 */
export interface KeptPage {
  sql: string;
  params: readonly unknown[];
}

/**
 * One page of `q.table`'s rows as plain `entity` objects (not hydrated: nothing on a page is
 * flushed). `visit` sees each row of the page as read, `q.columns` included, before it is mapped.
 * `kept`, when given, is sent instead of the statement built here.
 */
export async function keysetPage<T>(
  em: EntityManager,
  entity: new (...args: never[]) => T,
  q: KeysetQuery,
  visit?: (row: Record<string, unknown> & { id: string }) => void,
  kept?: KeptPage,
): Promise<Page<T>> {
  const { sql, params } = kept ?? pageStatement(q);
  const rows: Row[] = await query(em, sql, params);
  return toPage(em, entity, rows, q, visit);
}

/** A statement of at most one row that a page is read under (keysetPageUnder). */
export interface HeadStatement {
  /** Selects at most one row; every column's name starts with `head_`. */
  sql: string;
  params: readonly unknown[];
  /** The head column whose value the page's `column` must equal. */
  key: string;
}

/**
 * keysetPageUnder's statement kept in the database (a function that runs the same query with
 * a plan PostgreSQL keeps per connection), with the same answer: at most one row, its head's
 * columns named `head_<column>` beside `page_rows`, the page as a JSON array in its order.
 */
export interface KeptPageUnder {
  sql: string;
  params: readonly unknown[];
  /** Sends the call, with concurrent requests' calls of the same function (db/coalesce.ts). */
  coalescer?: Coalescer;
}

/** keysetPageUnder's statement, built: the head, the page under it as JSON in its `ord`. */
function underStatement(q: KeysetQuery, column: string, head: HeadStatement): KeptPageUnder {
  const page = pageStatement(q, { column, ref: `h.${head.key}` }, true);
  return {
    sql: `select h.*, (select json_agg(p order by p.ord)::text from (${page.sql}) p) as page_rows
       from (${head.sql}) h`,
    // In the order of their placeholders: the select list comes before the from.
    params: [...page.params, ...head.params],
  };
}

/**
 * A one-row `head` statement and the page of `q.table` under it (rows whose `column` equals
 * the head's `key`), in one statement: the page is read only when the head has a row, so the
 * head can be a gate (e.g. the viewer's session check). Null when the head has no row; the head
 * row otherwise (its columns without the `head_` prefix), with the page (maybe empty). The page
 * comes back as one JSON array beside the head (the head's columns are sent and parsed once,
 * not once a row), in the page's order (its `ord`). `kept`, when given, is sent instead of the
 * statement built here (through its coalescer when it has one); its rows may leave out `column`
 * (the head's key in every row) and any column the caller will not read.
 */
export async function keysetPageUnder<T, H = Record<string, unknown>>(
  em: EntityManager,
  entity: new (...args: never[]) => T,
  q: KeysetQuery,
  column: string,
  head: HeadStatement,
  kept?: KeptPageUnder,
): Promise<{ head: H; page: Page<T> } | null> {
  const statement = kept ?? underStatement(q, column, head);
  type UnderRow = Record<string, unknown> & { page_rows: string | null };
  const rows = (
    kept?.coalescer
      ? await kept.coalescer.call(em, kept.params)
      : await query(em, statement.sql, statement.params)
  ) as UnderRow[];
  const first = rows[0];
  if (!first) return null;
  const { page_rows: pageRows, ...named } = first;
  const headRow: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(named)) headRow[name.slice('head_'.length)] = value;
  const pageOf: Row[] = pageRows === null ? [] : (JSON.parse(pageRows) as Row[]);
  // Every row's `column` is the head's key: a kept statement may leave it out of the JSON.
  const owner = named[head.key];
  for (const row of pageOf) if (row[column] === undefined) row[column] = owner;
  return { head: headRow as H, page: toPage(em, entity, pageOf, q, undefined) };
}

/**
 * One page for each of `ids` (values of the uuid column `column`), in one statement: one id
 * pages with ORDER BY … LIMIT, several with a window per id. Every id has a page, maybe empty.
 */
export async function keysetPages<T>(
  em: EntityManager,
  entity: new (...args: never[]) => T,
  q: KeysetQuery,
  column: string,
  ids: readonly string[],
): Promise<Map<string, Page<T>>> {
  const { sql, params } = pageStatement(q, { column, ids });
  const rows: Row[] = await query(em, sql, params);
  const byId = new Map<string, Row[]>();
  for (const row of rows) {
    const id = row[column] as string;
    let list = byId.get(id);
    if (!list) byId.set(id, (list = []));
    list.push(row);
  }
  const pages = new Map<string, Page<T>>();
  for (const id of ids) pages.set(id, toPage(em, entity, byId.get(id) ?? [], q, undefined));
  return pages;
}

/** `count(*)` of `table` (aliased `t`) under `filter`, as its pages see it. */
export async function countRows(
  em: EntityManager,
  table: string,
  filter: SqlFilter,
): Promise<number> {
  const rows: { n: string }[] = await query(
    em,
    `select count(*) as n from ${table} t ${filter.sql}`,
    filter.params,
  );
  return toGraphQLInt(rows[0]?.n);
}
