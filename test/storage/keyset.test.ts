import { randomUUID } from 'node:crypto';
import { Task } from '../../src/entities';
import {
  countRows,
  keysetPage,
  keysetPages,
  NEWEST_FIRST,
  type KeysetOrder,
  type KeysetQuery,
} from '../../src/db/keyset';
import { SqlFilter } from '../../src/db/sql-filter';
import type { Page } from '../../src/lib/pagination';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import type { SeededUser } from '../helpers/seed';

/** The storage layer's one keyset pagination helper and filter builder, on the real database. */
let t: TestApp;
let a: SeededUser;
let b: SeededUser;
/** a's task ids newest first, ties (three at the same instant) broken by id. */
let aNewestFirst: string[];

// Long ago: lists of everyone’s tasks, newest first, never meet these rows at their top.
const AT = Date.UTC(2001, 6, 1, 12);

beforeAll(async () => {
  t = await startTestApp({ bcryptCost: 4 });
  [a, b] = await Promise.all([t.seed.user(), t.seed.user()]);
  const rows = [
    ...[AT - 1000, AT, AT, AT, AT + 1000].map((ms, i) => ({ owner: a.id, ms, title: `a-${i}` })),
    ...[AT, AT + 5].map((ms, i) => ({ owner: b.id, ms, title: `b-${i}` })),
  ].map((row) => ({ ...row, id: randomUUID() }));
  for (const row of rows) {
    const at = new Date(row.ms);
    await t.sql(
      `insert into tasks (id, owner_id, title, created_at, updated_at) values (?, ?, ?, ?, ?)`,
      [row.id, row.owner, row.title, at, at],
    );
  }
  aNewestFirst = rows
    .filter((row) => row.owner === a.id)
    .sort((x, y) => y.ms - x.ms || (x.id < y.id ? 1 : -1))
    .map((row) => row.id);
});
afterAll(() => t.close());

const ownerFilter = (id: string) => new SqlFilter().and('t.owner_id = ?', id);
const query = (filter: SqlFilter, first: number, after: string | null): KeysetQuery => ({
  table: 'tasks',
  filter,
  order: NEWEST_FIRST,
  first,
  after,
});

describe('keysetPage', () => {
  it('pages through ties without skipping or repeating a row, and says where each page sits', async () => {
    const em = t.app.orm.em.fork();
    const seen: string[] = [];
    let after: string | null = null;
    for (let n = 0; ; n += 1) {
      const page: Page<Task> = await keysetPage(em, Task, query(ownerFilter(a.id), 2, after));
      expect(page.hasPreviousPage).toBe(n > 0);
      expect(page.rows.map((_, i) => page.cursorAt(i))).toHaveLength(page.rows.length);
      seen.push(...page.rows.map((row) => row.id));
      if (!page.hasNextPage) break;
      after = page.cursorAt(page.rows.length - 1);
    }
    expect(seen).toEqual(aNewestFirst);
    // Rows come back plain and shaped like the entity, to-one relations as { id }.
    const [first] = (await keysetPage(em, Task, query(ownerFilter(a.id), 1, null))).rows;
    expect(first).toMatchObject({ id: aNewestFirst[0], owner: { id: a.id }, title: 'a-4' });
    expect(first!.createdAt).toEqual(new Date(AT + 1000));
  });

  it('orders by a unique key alone, ascending', async () => {
    const byTitle: KeysetOrder = {
      name: 'TITLE:ASC',
      key: 't.title',
      cast: 'text',
      pattern: /^[a-z0-9-]+$/,
      descending: false,
      unique: true,
    };
    const em = t.app.orm.em.fork();
    const q = { ...query(ownerFilter(a.id), 3, null), order: byTitle };
    const one = await keysetPage(em, Task, q);
    const two = await keysetPage(em, Task, { ...q, after: one.cursorAt(2) });
    expect([...one.rows, ...two.rows].map((row) => row.title)).toEqual([
      'a-0',
      'a-1',
      'a-2',
      'a-3',
      'a-4',
    ]);
    expect([one.hasNextPage, two.hasNextPage]).toEqual([true, false]);
  });

  it('refuses a cursor of another ordering, or a malformed one, as BAD_USER_INPUT on after', async () => {
    const em = t.app.orm.em.fork();
    const page = await keysetPage(em, Task, query(ownerFilter(a.id), 1, null));
    const ascending = { ...NEWEST_FIRST, name: 'CREATED_AT:ASC', descending: false };
    for (const q of [
      { ...query(ownerFilter(a.id), 1, page.cursorAt(0)), order: ascending },
      query(ownerFilter(a.id), 1, 'not-a-cursor'),
    ]) {
      const err = await keysetPage(em, Task, q).catch((e: unknown) => e);
      expect(err).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', fields: ['after'] } });
    }
  });
});

describe('keysetPages', () => {
  it('answers a page for each id in one statement, an empty one for an id with no rows', async () => {
    const em = t.app.orm.em.fork();
    const none = randomUUID();
    const statements = await t.countQueries(async () => {
      const pages = await keysetPages(em, Task, query(new SqlFilter(), 2, null), 'owner_id', [
        a.id,
        b.id,
        none,
      ]);
      expect(pages.get(a.id)!.rows.map((row) => row.id)).toEqual(aNewestFirst.slice(0, 2));
      expect(pages.get(a.id)!.hasNextPage).toBe(true);
      expect(pages.get(b.id)!.rows.map((row) => row.title)).toEqual(['b-1', 'b-0']);
      expect(pages.get(b.id)!.hasNextPage).toBe(false);
      expect(pages.get(none)).toMatchObject({ rows: [], hasNextPage: false });
    });
    expect(statements).toHaveLength(1);
  });

  it('continues one id’s list after its cursor, as keysetPage does', async () => {
    const em = t.app.orm.em.fork();
    const first = await keysetPage(em, Task, query(ownerFilter(a.id), 2, null));
    const after = first.cursorAt(1);
    const single = await keysetPages(em, Task, query(new SqlFilter(), 2, after), 'owner_id', [
      a.id,
    ]);
    expect(single.get(a.id)!.rows.map((row) => row.id)).toEqual(aNewestFirst.slice(2, 4));
  });
});

describe('countRows', () => {
  it('counts under the same filter as the pages', async () => {
    const em = t.app.orm.em.fork();
    expect(await countRows(em, 'tasks', ownerFilter(a.id))).toBe(5);
    expect(await countRows(em, 'tasks', ownerFilter(a.id).contains(['t.title'], 'A-4'))).toBe(1);
  });
});

describe('SqlFilter', () => {
  it('leaves out what is not given (false is given), and binds values in the order of the text', () => {
    const f = new SqlFilter()
      .given(null, 't.a = ?')
      .given(undefined, 't.b = ?')
      .given('', 't.c = ?')
      .given(false, 't.d = ?')
      .anyOf('t.s', [], 'task_status')
      .anyOf('t.s', ['TODO', 'DONE'], 'task_status')
      .contains(['t.x'], null);
    expect(f.sql).toBe('where t.d = ? and t.s = any(?::task_status[])');
    expect(f.params).toEqual([false, '{TODO,DONE}']);
    const g = new SqlFilter().and('t.owner_id = ?', 'o').andAll(f);
    expect(g.sql).toBe('where t.owner_id = ? and t.d = ? and t.s = any(?::task_status[])');
    expect(g.params).toEqual(['o', false, '{TODO,DONE}']);
    expect(new SqlFilter().isEmpty).toBe(true);
    expect(new SqlFilter().sql).toBe('');
  });

  it('matches text literally, LIKE wildcards included', () => {
    const f = new SqlFilter().contains(['t.a', 't.b'], '50%_off\\');
    expect(f.sql).toBe('where (t.a ilike ? or t.b ilike ?)');
    expect(f.params).toEqual(['%50\\%\\_off\\\\%', '%50\\%\\_off\\\\%']);
  });

  it('refuses values that do not match the placeholders', () => {
    expect(() => new SqlFilter().and('t.a = ? and t.b = ?', 1)).toThrow(/2 placeholders, given 1/);
  });
});
