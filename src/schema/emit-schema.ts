import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { printAppSchema } from './build-schema';

/**
 * `npm run schema:emit` writes src/schema/schema.graphql; `npm run schema:check` fails when the
 * committed file differs from what the code emits (CI's schema-drift check).
 */
const target = resolve(process.cwd(), 'src/schema/schema.graphql');
const sdl = printAppSchema();
if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(target, 'utf8');
  } catch {
    committed = '';
  }
  if (committed !== sdl) {
    process.stderr.write(
      'src/schema/schema.graphql differs from what the code emits: run `npm run schema:emit` and commit it\n',
    );
    process.exit(1);
  }
  process.stdout.write('schema.graphql matches the code\n');
} else {
  writeFileSync(target, sdl);
  process.stdout.write(`wrote ${target}\n`);
}
