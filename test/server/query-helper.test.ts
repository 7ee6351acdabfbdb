import { query } from '../../src/db/query';
import { isDatabaseUnavailable } from '../../src/db/unavailable';
import { startTestApp, type TestApp } from '../helpers/create-test-app';

/** The storage layer's statement helper, on the real database. */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ bcryptCost: 4 });
});
afterAll(() => t.close());

describe('query()', () => {
  it('binds values by position, Dates and nulls included', async () => {
    const em = t.app.orm.em.fork();
    const at = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6));
    const rows: { n: number; at: Date; none: null }[] = await query(
      em,
      'select ?::int + 1 as n, ?::timestamptz as at, ?::text as none',
      [41, at, null],
    );
    expect(rows[0]!.n).toBe(42);
    expect(new Date(rows[0]!.at).getTime()).toBe(at.getTime());
    expect(rows[0]!.none).toBeNull();
  });

  it('refuses values that do not match the placeholders as a bug, never as the database being unavailable', async () => {
    const em = t.app.orm.em.fork();
    for (const values of [[1, 2], []]) {
      const err = await query(em, 'select ?::int as n', values).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(String((err as Error).message)).toMatch(/Expected 1 bindings, saw \d/);
      expect(isDatabaseUnavailable(err)).toBe(false);
    }
  });
});
