import { dirname, join } from 'node:path';

type ValidateArg = (
  argValue: unknown,
  argType: unknown,
  resolverData: unknown,
  globalValidate: unknown,
  argValidateSettings: unknown,
  globalValidateFn: unknown,
  argValidateFn: unknown,
) => unknown;

interface ValidateArgModule {
  validateArg: ValidateArg & { atOnce?: true };
}

/**
 * type-graphql validates a resolver's arguments in an async function, so a resolver with
 * arguments always waits for a promise before it runs, even when the validateFn has nothing to
 * wait for; with its Promise.all over the parameters that is about eight promises a call, and an
 * admin page of 50 users makes 100 such calls (a fifth of its server CPU, measured). Here the
 * validateFn's answer is used as it comes: a value at once, a promise only when the validateFn
 * returned one. What a resolver receives and every refusal are unchanged: the same validateFn
 * runs on the same converted value, and its throw still fails the call as a rejection.
 *
 * type-graphql's `exports` map hides the module, so it is reached by path from the package's
 * entry point. type-graphql is pinned to an exact version; if an upgrade moves or reshapes the
 * module, nothing is replaced and this returns false (a test asserts true, so that an upgrade
 * that loses the shortcut fails there instead of silently getting slower).
 */
export function validateArgumentsAtOnce(): boolean {
  let mod: ValidateArgModule;
  try {
    const entry = require.resolve('type-graphql');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(join(dirname(entry), 'resolvers', 'validate-arg.js')) as ValidateArgModule;
  } catch {
    return false;
  }
  const original = mod.validateArg;
  if (typeof original === 'function' && original.atOnce) return true;
  if (typeof original !== 'function' || original.length !== 7) return false;
  const atOnce: ValidateArgModule['validateArg'] = function validateArg(...args) {
    const [argValue, argType, resolverData, , , globalValidateFn, argValidateFn] = args;
    const validateFn = argValidateFn ?? globalValidateFn;
    if (typeof validateFn !== 'function') return original(...args);
    let verdict: unknown;
    try {
      verdict = (validateFn as (v: unknown, t: unknown, d: unknown) => unknown)(
        argValue,
        argType,
        resolverData,
      );
    } catch (err) {
      // As from type-graphql's async function: the call fails as a rejection, not a throw.
      return Promise.reject(err);
    }
    return verdict instanceof Promise ? verdict.then(() => argValue) : argValue;
  };
  atOnce.atOnce = true;
  mod.validateArg = atOnce;
  return true;
}
