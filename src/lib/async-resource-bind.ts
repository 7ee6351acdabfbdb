import { AsyncResource } from 'node:async_hooks';

type Bind = (this: AsyncResource, fn: unknown, thisArg?: unknown) => unknown;

const LIGHT = Symbol.for('switchboard.lightAsyncResourceBind');

/**
 * Node 20's `AsyncResource#bind` gives each bound function a deprecated `asyncResource`
 * accessor pair (DEP0172), made by two `util.deprecate` calls a bind. Fastify binds one function
 * a request body, and those calls were about 1% of a page's CPU on the server (2.6% of a burst
 * of sign-ins). Replaced, once, by the same binding (the function runs in the resource's async
 * scope with the same `this` and arguments; `length` as the original's) whose `asyncResource`
 * is a plain property with the same value.
 */
export function lightenAsyncResourceBind(): void {
  const proto = AsyncResource.prototype as unknown as { bind: Bind & { [LIGHT]?: true } };
  const original = proto.bind;
  if (original[LIGHT]) return;
  const bind: Bind & { [LIGHT]?: true } = function bind(this: AsyncResource, fn, thisArg) {
    // Anything but a function gets Node's own refusal.
    if (typeof fn !== 'function') return original.call(this, fn, thisArg);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the bound function's own `this` is the caller's
    const resource = this;
    const target = fn as (...args: unknown[]) => unknown;
    const bound =
      thisArg === undefined
        ? function (this: unknown, ...args: unknown[]) {
            return resource.runInAsyncScope(target, this, ...args);
          }
        : resource.runInAsyncScope.bind(resource, target, thisArg);
    Object.defineProperty(bound, 'length', {
      configurable: true,
      enumerable: false,
      writable: false,
      value: target.length,
    });
    Object.defineProperty(bound, 'asyncResource', {
      configurable: true,
      enumerable: true,
      writable: true,
      value: resource,
    });
    return bound;
  };
  bind[LIGHT] = true;
  proto.bind = bind;
}
