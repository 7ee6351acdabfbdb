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
