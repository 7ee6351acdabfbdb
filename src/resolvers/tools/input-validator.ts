import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { RegExpEngine } from 'ajv/dist/types';
import { RE2JS } from 're2js';
import addFormats from 'ajv-formats';
import { BadUserInputError, UpstreamError } from '../../errors';

/**
 * `pattern` and `patternProperties` run on RE2 (re2js, pure JavaScript): matching takes linear
 * time, so a pattern like `^(a+)+$` cannot stall the event loop for every user. RE2 has no
 * lookaround or backreferences; a schema using them is refused when it is saved.
 */
const re2: RegExpEngine = Object.assign(
  (pattern: string) => {
    const compiled = RE2JS.compile(pattern);
    return { test: (text: string) => compiled.matcher(text).find() };
  },
  { code: 'require("re2js").RE2JS' },
);

function isAsync(fn: ValidateFunction): boolean {
  return (fn as { $async?: unknown }).$async === true;
}

function errorPath(error: ErrorObject, root: string): string {
  const base = error.instancePath
    ? `${root}${error.instancePath.replace(/\//g, '.').replace(/~1/g, '/').replace(/~0/g, '~')}`
    : root;
  const missing = (error.params as { missingProperty?: string }).missingProperty;
  const extra = (error.params as { additionalProperty?: string }).additionalProperty;
  if (missing) return `${base}.${missing}`;
  if (extra) return `${base}.${extra}`;
  return base;
}

/**
 * Tool inputs are checked against the tool's JSON Schema with ajv. Each schema version is
 * compiled once (keyed by tool id and its update time) and reused for every call.
 */
export class InputValidator {
  private readonly ajv = new Ajv({
    allErrors: true,
    strict: false,
    validateSchema: true,
    code: { regExp: re2 },
  });
  private readonly cache = new Map<string, ValidateFunction>();

  constructor() {
    addFormats(this.ajv);
  }

  /** BAD_USER_INPUT on `field` unless `schema` is a usable JSON Schema object. */
  checkSchema(schema: unknown, field = 'inputSchema'): void {
    if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
      throw new BadUserInputError(`${field} must be a JSON Schema object`, [field]);
    }
    if (JSON.stringify(schema).length > 100_000) {
      throw new BadUserInputError(`${field} is too large`, [field]);
    }
    let fn: ValidateFunction;
    try {
      fn = this.ajv.compile(schema);
    } catch (err) {
      throw new BadUserInputError(
        `${field} is not a valid JSON Schema: ${(err as Error).message}`,
        [field],
      );
    }
    if (isAsync(fn)) {
      throw new BadUserInputError(`${field} must not be an asynchronous schema ($async)`, [field]);
    }
  }

  validate(version: string, schema: Record<string, unknown>, input: unknown): void {
    let fn = this.cache.get(version);
    if (!fn) {
      try {
        fn = this.ajv.compile(schema);
      } catch {
        fn = undefined;
      }
      // A schema saved before today's rules (or edited in the database) that no longer compiles,
      // or whose validator would answer with a promise, makes the tool unusable, not the input bad.
      if (!fn || isAsync(fn)) throw new UpstreamError('This tool is not available');
      if (this.cache.size > 1_000) this.cache.clear();
      this.cache.set(version, fn);
    }
    if (fn(input)) return;
    const errors = fn.errors ?? [];
    const fields = [...new Set(errors.map((e) => errorPath(e, 'input')))];
    const detail = errors
      .slice(0, 5)
      .map((e) => `${errorPath(e, 'input')} ${e.message ?? 'is invalid'}`)
      .join('; ');
    throw new BadUserInputError(`Tool input does not match its schema: ${detail}`, fields, {
      errors: errors.slice(0, 20).map((e) => ({
        path: errorPath(e, 'input'),
        message: e.message ?? 'is invalid',
      })),
    });
  }
}
