// Fails when src/ has an import cycle, type-only imports included. The one allowed kind is an
// entity and its own custom repository (MikroORM's `repository: () => XRepository` on the
// entity, the entity as the repository's type): entities/x.entity.ts <-> entities/x.repository.ts.
import madge from 'madge';

const result = await madge('src', {
  fileExtensions: ['ts'],
  tsConfig: 'tsconfig.json',
  detectiveOptions: { ts: { skipTypeImports: false }, es6: { skipTypeImports: false } },
});
const allowed = (cycle) =>
  cycle.length === 2 &&
  cycle.every((file) => /^entities\/[\w-]+\.(entity|repository)\.ts$/.test(file)) &&
  cycle[0].replace(/\.(entity|repository)\.ts$/, '') ===
    cycle[1].replace(/\.(entity|repository)\.ts$/, '');
const cycles = result.circular().filter((cycle) => !allowed(cycle));
if (cycles.length > 0) {
  console.error(`${cycles.length} import cycle(s) in src/:`);
  for (const cycle of cycles) console.error(`  ${[...cycle, cycle[0]].join(' -> ')}`);
  process.exit(1);
}
console.log(`no import cycles in src/ (${Object.keys(result.obj()).length} files)`);
