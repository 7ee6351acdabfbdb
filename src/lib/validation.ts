import { getMetadataStorage, validate, type ValidationError } from 'class-validator';
import { BadUserInputError } from '../errors';
import { unstorableTextPaths } from './text';

function collect(errors: ValidationError[], prefix: string, out: Map<string, string>): void {
  for (const error of errors) {
    const path = prefix ? `${prefix}.${error.property}` : error.property;
    if (error.constraints) {
      const first = Object.values(error.constraints)[0];
      if (first && !out.has(path)) out.set(path, first);
    }
    if (error.children?.length) collect(error.children, path, out);
  }
}

/**
 * type-graphql's validateFn: class-validator on every input and args class, surfacing as
 * BAD_USER_INPUT with the offending field names before any resolver runs. Text PostgreSQL
 * cannot store (NUL, unpaired surrogates) is refused first, so no validator ever sees it.
 * Answers at once (undefined, or a thrown BadUserInputError) unless class-validator has to
 * run: values without rules, or that passed before, cost no promise (a page of 50 users asks
 * for 100 such checks).
 */
export function validateArgument(value: unknown): Promise<void> | undefined {
  // A JSON scalar (a plain object or array, such as invokeTool's input) is its resolver's to check.
  const unstorable = isPlainJson(value) ? [] : unstorableTextPaths(value);
  if (unstorable.length > 0) {
    const fields = unstorable.filter((path) => path !== '');
    throw new BadUserInputError(
      `Text must not contain NUL characters or unpaired surrogates${
        fields.length > 0 ? `: ${fields.join(', ')}` : ''
      }`,
      fields,
    );
  }
  if (value === null || typeof value !== 'object') return undefined;
  const items = Array.isArray(value) ? value : [value];
  let unknown: { item: object; cls: Function; key: string | null }[] | null = null;
  for (const item of items) {
    if (item === null || typeof item !== 'object') continue;
    // Only instances of input/args classes carry rules; JSON scalars are plain objects.
    const proto: unknown = Object.getPrototypeOf(item);
    if (proto === null || proto === Object.prototype) continue;
    const cls = (proto as { constructor: Function }).constructor;
    if (!hasRules(cls)) continue;
    const key = verdictKey(item);
    if (key !== null && passed.get(cls)?.has(key)) continue;
    (unknown ??= []).push({ item: item as object, cls, key });
  }
  return unknown === null ? undefined : validateUnknown(unknown);
}

async function validateUnknown(
  items: { item: object; cls: Function; key: string | null }[],
): Promise<void> {
  const problems = new Map<string, string>();
  for (const { item, cls, key } of items) {
    const before = problems.size;
    collect(await validate(item, { forbidUnknownValues: false }), '', problems);
    if (key !== null && problems.size === before) remember(cls, key);
  }
  if (problems.size > 0) {
    const fields = [...problems.keys()];
    throw new BadUserInputError(`Invalid input: ${[...problems.values()].join('; ')}`, fields);
  }
}

/**
 * class-validator costs tens of microseconds a call, and type-graphql validates the arguments of
 * every field resolver call: `tasks { totalCount }` on a page of 50 users is 50 validations of
 * the same (usually empty) arguments. Two shortcuts keep the rules and drop the repetition:
 * classes without any rule are never validated, and a small set of values that passed is
 * remembered per class (validation depends on the values alone).
 */
const rules = new WeakMap<Function, boolean>();
function hasRules(cls: Function): boolean {
  let has = rules.get(cls);
  if (has === undefined) {
    has = getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false).length > 0;
    rules.set(cls, has);
  }
  return has;
}

const passed = new WeakMap<Function, Set<string>>();
const REMEMBERED_PER_CLASS = 500;
const MAX_KEY_LENGTH = 1_000;

/** The values as text (nested input classes included), or null when too long to remember. */
function verdictKey(item: object): string | null {
  const key = JSON.stringify(item);
  return key !== undefined && key.length <= MAX_KEY_LENGTH ? key : null;
}

function remember(cls: Function, key: string): void {
  let set = passed.get(cls);
  if (!set) passed.set(cls, (set = new Set()));
  if (set.size >= REMEMBERED_PER_CLASS) set.clear();
  set.add(key);
}

function isPlainJson(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(isPlainJson);
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || proto === Object.prototype;
}
