import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

/** `npm run check:sql`: SQL is written in the storage layer only (src/entities, src/db). */
const run = (root?: string) =>
  promisify(execFile)(process.execPath, ['scripts/check-sql.mjs', ...(root ? [root] : [])]).then(
    ({ stdout }) => ({ code: 0, out: stdout }),
    (err: { code: number; stderr: string }) => ({ code: err.code, out: err.stderr }),
  );

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'check-sql-'));
  const files: Record<string, string> = {
    // Allowed: the storage layer.
    'entities/task.repository.ts': 'export const a = `select * from tasks t where t.id = ?`;',
    'db/keyset.ts': "export const b = 'select count(*) as n from ' + 'users';",
    'migrations/Migration1.ts': "export const c = 'delete from tasks';",
    // Not SQL.
    'resolvers/tasks/task.resolver.ts': [
      "export const d = 'Select the tasks you want from the list, then update them';",
      "export const e = 'Insert into the list; delete from the page; update the set';",
      "export const f = 'pick a plan (select one from the plans above) and update settings';",
    ].join('\n'),
    // Planted: a statement and a filter condition in services.
    'resolvers/tasks/task.service.ts': [
      'export async function purge(id: string) {',
      '  return run(`delete from tasks where id = ${id}`);',
      '}',
      'declare function run(sql: string): Promise<void>;',
    ].join('\n'),
    'audit/audit.service.ts': "export const where = ['t.actor_id = ?'];",
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('passes on src/', async () => {
  expect(await run()).toMatchObject({ code: 0 });
});

it('fails on SQL planted outside the storage layer, naming each place', async () => {
  const { code, out } = await run(root);
  expect(code).toBe(1);
  expect(out).toMatch(/2 SQL string\(s\) outside the storage layer/);
  const places = out.split('\n').filter((line) => line.startsWith('  '));
  expect(places).toHaveLength(2);
  expect(places[0]).toMatch(/audit\/audit\.service\.ts:1 {2}t\.actor_id = \?$/);
  expect(places[1]).toMatch(
    /resolvers\/tasks\/task\.service\.ts:2 {2}delete from tasks where id = \?$/,
  );
});
