import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { lightenAsyncResourceBind } from '../../src/lib/async-resource-bind';

describe("AsyncResource#bind, made without Node 20's deprecated accessors", () => {
  beforeAll(() => lightenAsyncResourceBind());

  it("runs the function in the resource's async context, with the caller's this and arguments", () => {
    const storage = new AsyncLocalStorage<string>();
    const bound = storage.run('bound here', () =>
      new AsyncResource('test').bind(function (this: unknown, a: number, b: number) {
        return { store: storage.getStore(), self: this, sum: a + b };
      }),
    );
    const self = { name: 'caller' };
    const seen = storage.run('called here', () => bound.call(self, 2, 3));
    expect(seen).toEqual({ store: 'bound here', self, sum: 5 });
    // Outside any store too.
    expect(bound(1, 1).store).toBe('bound here');
  });

  it('binds thisArg when given, keeps length, and carries its resource without a warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const resource = new AsyncResource('test');
      const self = { n: 7 };
      // Node's own types leave out the thisArg that Node takes.
      const bindWithThis = resource.bind.bind(resource) as unknown as (
        fn: (this: { n: number }, x: number, y: number) => number,
        thisArg: { n: number },
      ) => (x: number, y: number) => number;
      const bound = bindWithThis(function (this: { n: number }, x: number, _y: number) {
        return this.n * x;
      }, self);
      expect(bound(6, 0)).toBe(42);
      expect(bound.length).toBe(2);
      expect((bound as unknown as { asyncResource: AsyncResource }).asyncResource).toBe(resource);
      // A plain property: Node 20 makes a deprecated getter and setter for it on every bind.
      expect(Object.getOwnPropertyDescriptor(bound, 'asyncResource')).toMatchObject({
        value: resource,
        enumerable: true,
      });
      // The static form goes through the same binding.
      const staticBound = AsyncResource.bind((a: string) => a.toUpperCase());
      expect(staticBound('ok')).toBe('OK');
      expect(staticBound.length).toBe(1);
      // Node emits its deprecation warnings on a later tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });

  it('refuses what is not a function as Node does', () => {
    expect(() => new AsyncResource('test').bind(42 as unknown as () => void)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });

  it('is replaced once', () => {
    const bind = AsyncResource.prototype.bind;
    lightenAsyncResourceBind();
    expect(AsyncResource.prototype.bind).toBe(bind);
  });
});
