import { isoAsRead, parseUtcTimestamp, TextDate } from '../../src/lib/rows';
import { DateTimeScalar } from '../../src/schema/scalars';
import { startTestApp, type TestApp } from '../helpers/create-test-app';

/** `ms` since the epoch as PostgreSQL writes a timestamptz in JSON, with `fraction` digits. */
function written(ms: number, micros: number, fraction: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-30T12:34:56.789Z
  const six = `${iso.slice(20, 23)}${String(micros).padStart(3, '0')}`;
  const shown = six.slice(0, fraction).replace(/0+$/, '');
  return `${iso.slice(0, 19)}${shown ? `.${shown}` : ''}+00:00`;
}

describe('parseUtcTimestamp', () => {
  it('reads PostgreSQL’s JSON timestamps exactly as the Date parser does', () => {
    let seed = 42;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    const start = Date.UTC(1900, 0, 1);
    const span = Date.UTC(2200, 0, 1) - start;
    for (let i = 0; i < 20_000; i += 1) {
      const text = written(start + (next() % span), next() % 1000, 1 + (next() % 6));
      const fast = parseUtcTimestamp(text);
      expect(fast?.getTime()).toBe(new Date(text).getTime());
      // The DateTime it answers is the text made from the one read, as toISOString makes it.
      expect(DateTimeScalar.serialize(fast)).toBe(new Date(text).toISOString());
    }
    for (const text of [
      '2026-11-30T12:34:56+00:00',
      '2026-11-30T12:34:56.1+00:00',
      '2026-11-30T12:34:56.999999+00:00',
      '2024-02-29T23:59:59.5+00:00',
      '2000-01-01T00:00:00+00:00',
    ]) {
      expect(parseUtcTimestamp(text)?.getTime()).toBe(new Date(text).getTime());
      expect(DateTimeScalar.serialize(parseUtcTimestamp(text))).toBe(new Date(text).toISOString());
    }
  });

  it('answers the changed time of a Date changed after it was read, not the text it was read from', () => {
    const read = parseUtcTimestamp('2026-11-30T12:34:56.789123+00:00')!;
    // Answered from the text read, not formatted again.
    expect(read).toBeInstanceOf(TextDate);
    expect(isoAsRead(read)).toBe('2026-11-30T12:34:56.789Z');
    expect(DateTimeScalar.serialize(read)).toBe('2026-11-30T12:34:56.789Z');
    read.setUTCFullYear(2027);
    expect(isoAsRead(read)).toBeUndefined();
    expect(DateTimeScalar.serialize(read)).toBe('2027-11-30T12:34:56.789Z');
    expect(JSON.stringify({ read })).toBe('{"read":"2027-11-30T12:34:56.789Z"}');
  });

  it('leaves every other form to the Date parser', () => {
    for (const text of [
      'infinity',
      '-infinity',
      '2026-11-30T12:34:56+02:00', // another zone
      '2026-11-30 12:34:56+00', // the text form, not JSON's
      '2026-11-30T12:34:56.+00:00',
      '2026-11-30T12:34:56.1234567+00:00',
      '2026-02-30T12:34:56+00:00', // no such day
      '2026-13-01T12:34:56+00:00',
      '2026-11-30T24:00:00+00:00',
      '2026-11-30T12:60:00+00:00',
      '0099-11-30T12:34:56+00:00', // Date.UTC would read 1999
      '2026-1a-30T12:34:56+00:00',
      '2026-11-30T1x:34:56+00:00',
      '+12026-11-30T12:34:56+00:00',
      '2026-11-30T12:34:56.12a+00:00',
    ]) {
      expect(parseUtcTimestamp(text)).toBeNull();
    }
  });
});

describe('a page’s timestamps', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  it('are the database’s, to the millisecond', async () => {
    const user = await app.seed.user();
    const dates = [
      '2026-01-31T23:59:59.999Z',
      '2026-02-01T00:00:00.001Z',
      '2024-02-29T12:00:00.1Z',
    ];
    for (const dueDate of dates) await app.seed.task(user, { title: dueDate, dueDate });
    const page = await app.gql<{
      tasks: { nodes: { title: string; dueDate: string; createdAt: string }[] };
    }>(`{ tasks(first: 10) { nodes { title dueDate createdAt } } }`, {}, user.accessToken);
    const rows = await app.sql<{ title: string; due: string; created: string }>(
      `select title, to_char(due_date at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as due,
              to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created
         from tasks where owner_id = ?`,
      [user.id],
    );
    expect(page.data?.tasks.nodes).toHaveLength(3);
    for (const node of page.data!.tasks.nodes) {
      const row = rows.find((r) => r.title === node.title)!;
      expect(node.dueDate).toBe(row.due);
      expect(node.createdAt).toBe(row.created);
      expect(node.dueDate).toBe(new Date(node.title).toISOString());
    }
  });
});
