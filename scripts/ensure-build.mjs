// `npm start` builds first when dist/ is missing or older than the sources, so that
// `npm install && npm start` works on a fresh clone.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

const entry = 'dist/src/main.js';
const stamp = 'dist/.tsbuildinfo';
if (!existsSync(entry) || !existsSync(stamp) || statSync(stamp).mtimeMs < newest('src')) {
  process.stderr.write('Building Switchboard (tsc)...\n');
  execSync('npx tsc -p tsconfig.build.json', { stdio: 'inherit' });
}
