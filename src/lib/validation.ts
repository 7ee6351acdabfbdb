import { validate, type ValidationError } from 'class-validator';
import { BadUserInputError } from '../errors';

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
 * BAD_USER_INPUT with the offending field names before any resolver runs.
 */
/** Paths of string fields holding NUL, which PostgreSQL cannot store in text. */
function nulFields(value: unknown, prefix: string, out: string[]): void {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) out.push(prefix);
  } else if (Array.isArray(value)) {
    value.forEach((item) => nulFields(item, prefix, out));
  } else if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    for (const [key, item] of Object.entries(value)) {
      nulFields(item, prefix ? `${prefix}.${key}` : key, out);
    }
  }
}

export async function validateArgument(value: unknown): Promise<void> {
  if (typeof value === 'string' && value.includes('\u0000')) {
    throw new BadUserInputError('Text must not contain NUL characters', []);
  }
  if (value === null || typeof value !== 'object') return;
  const items = Array.isArray(value) ? value : [value];
  const problems = new Map<string, string>();
  for (const item of items) {
    if (item === null || typeof item !== 'object') continue;
    // Only instances of input/args classes carry rules; JSON scalars are plain objects.
    const proto: unknown = Object.getPrototypeOf(item);
    if (proto === null || proto === Object.prototype) continue;
    collect(await validate(item as object, { forbidUnknownValues: false }), '', problems);
  }
  const nul: string[] = [];
  for (const item of items) {
    const proto: unknown = item && typeof item === 'object' ? Object.getPrototypeOf(item) : null;
    if (proto !== null && proto !== Object.prototype) nulFields(item, '', nul);
  }
  for (const path of nul) problems.set(path, `${path} must not contain NUL characters`);
  if (problems.size > 0) {
    const fields = [...problems.keys()];
    throw new BadUserInputError(`Invalid input: ${[...problems.values()].join('; ')}`, fields);
  }
}
