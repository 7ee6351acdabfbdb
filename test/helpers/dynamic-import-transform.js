// A jest transform for the one dependency that loads Node's built-ins with `import()` from
// CommonJS (@opentelemetry/otlp-exporter-base: `import('http')`). Node runs that; jest's module
// sandbox cannot without --experimental-vm-modules ("A dynamic import callback was invoked
// without --experimental-vm-modules"), so in the tests it becomes a require() of the same module.
const BUILTIN_IMPORT = /\bimport\((['"])((?:node:)?[a-z_]+)\1\)/g;

module.exports = {
  process(source) {
    return { code: source.replace(BUILTIN_IMPORT, 'Promise.resolve(require($1$2$1))') };
  },
};
