// Loaded with `node --import ./polyfill.mjs` before anything else: PostGraphile 5.1 (grafast,
// grafserv, @dataplan/pg) declares Node >= 22, and this machine has Node 20. What the installed
// packages use that Node 20 lacks (searched in node_modules; see README.md):
//   - Promise.withResolvers (Node 22): grafast, grafserv, @dataplan/pg call it on every request.
// Everything else they use exists on Node 20.20 (Symbol.dispose / Symbol.asyncDispose, structuredClone);
// `process.features.typescript` (graphile-config's loadConfig) is only read when a config file is
// loaded, which these servers never do, and is a harmless `undefined` there.
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function withResolvers() {
      let resolve;
      let reject;
      const promise = new this((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}
