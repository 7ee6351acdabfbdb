// `npm start` builds first when dist/ is missing or older than the sources, so that
// `npm install && npm start` works on a fresh clone.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

// Plain JavaScript that `npm run build` copies into dist/ as is (tsc compiles only TypeScript).
const copied = ['src/auth/password-hash.worker.js'];

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (copied.includes(path.split('\\').join('/'))) continue;
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

const entry = 'dist/src/main.js';
const stamp = 'dist/.tsbuildinfo';
// tsc leaves its stamp alone when no TypeScript changed, so copies are checked one by one.
const compiledStale =
  !existsSync(entry) || !existsSync(stamp) || statSync(stamp).mtimeMs < newest('src');
const copyStale = copied.some((file) => {
  const target = join('dist', file);
  return !existsSync(target) || statSync(target).mtimeMs < statSync(file).mtimeMs;
});
if (compiledStale || copyStale) {
  process.stderr.write('Building Switchboard (tsc)...\n');
  execSync('npm run build', { stdio: 'inherit' });
}
