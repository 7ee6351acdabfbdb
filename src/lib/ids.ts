import { BadUserInputError } from '../errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs; anything else is not an id of ours (and must never reach SQL as one). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** A malformed id is bad input (BAD_USER_INPUT on `field`), never a lookup. */
export function requireId(value: string, field: string): string {
  if (!isUuid(value)) {
    throw new BadUserInputError(`${field} is not a valid id`, [field]);
  }
  return value;
}

/**
 * `ids` as one PostgreSQL array literal, for `= any(?::uuid[])`: one parameter whatever the
 * number of ids, so a batch of 5 and a batch of 50 are the same statement. Anything that is
 * not a UUID is left out (it could match no row, and must not shape the literal).
 */
export function uuidArray(ids: readonly string[]): string {
  return `{${ids.filter(isUuid).join(',')}}`;
}
