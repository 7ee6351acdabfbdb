import type { EntityManager } from '@mikro-orm/postgresql';
import { ReferenceKind, type EntityMetadata } from '@mikro-orm/core';

type Row = Record<string, unknown>;
type Mapper = (row: Row) => Row;

const mappers = new WeakMap<EntityMetadata, Mapper>();

/**
 * Maps a row of a read-only page to a plain object shaped like the entity (to-one relations
 * as `{ id }`), without hydrating it into the identity map: on a page of 100 rows that is
 * most of the ORM's cost, and nothing on a page is ever flushed.
 */
export function toPlain<T>(em: EntityManager, entity: new (...args: never[]) => T, row: Row): T {
  const meta = em.getMetadata().get(entity.name);
  let mapper = mappers.get(meta);
  if (!mapper) {
    const fields = meta.props.flatMap((prop) => {
      if (prop.kind === ReferenceKind.SCALAR || prop.kind === ReferenceKind.EMBEDDED) {
        return [
          {
            name: prop.name,
            column: prop.fieldNames[0]!,
            ref: false,
            date: prop.runtimeType === 'Date',
          },
        ];
      }
      if (
        prop.kind === ReferenceKind.MANY_TO_ONE ||
        (prop.kind === ReferenceKind.ONE_TO_ONE && prop.owner)
      ) {
        return [{ name: prop.name, column: prop.fieldNames[0]!, ref: !prop.mapToPk, date: false }];
      }
      return [];
    });
    const platform = em.getPlatform();
    mapper = (source) => {
      const out: Row = {};
      for (const field of fields) {
        const value = source[field.column];
        if (value == null) out[field.name] = null;
        else if (field.ref) out[field.name] = { id: value };
        else if (field.date && !(value instanceof Date))
          out[field.name] =
            (typeof value === 'string' ? parseUtcTimestamp(value) : null) ??
            platform.parseDate(value as string);
        else out[field.name] = value;
      }
      return out;
    };
    mappers.set(meta, mapper);
  }
  return mapper(row) as T;
}

const DIGIT_0 = 48;

/** The decimal number in text[from, to), or -1 if any of it is not a digit. */
function digits(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i += 1) {
    const digit = text.charCodeAt(i) - DIGIT_0;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * A timestamp as PostgreSQL writes a timestamptz in JSON for a UTC session
 * (`2026-11-30T12:34:56.123456+00:00`, the fraction optional, 1 to 6 digits) as the Date the
 * Date parser makes of it (milliseconds truncated, as it does), or null for any other form,
 * which the caller parses as before. A page's rows come as JSON text (db/keyset.ts) with four
 * timestamps each: the Date parser takes about 200 ns for this form, this a fraction of that.
 */
export function parseUtcTimestamp(text: string): Date | null {
  const n = text.length;
  // 25 characters without a fraction, up to 32 with six digits of it.
  if (n < 25 || n > 32 || n === 26) return null;
  if (
    text.charCodeAt(4) !== 45 || // -
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 || // T
    text.charCodeAt(13) !== 58 || // :
    text.charCodeAt(16) !== 58 ||
    !text.endsWith('+00:00')
  ) {
    return null;
  }
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  const hour = digits(text, 11, 13);
  const minute = digits(text, 14, 16);
  const second = digits(text, 17, 19);
  let ms = 0;
  const end = n - 6;
  if (end > 19) {
    if (text.charCodeAt(19) !== 46) return null; // .
    const fraction = digits(text, 20, end);
    if (fraction < 0) return null;
    const shown = end - 20;
    ms = shown >= 3 ? Math.floor(fraction / 10 ** (shown - 3)) : fraction * 10 ** (3 - shown);
  }
  // Date.UTC reads years 0-99 as 1900-1999; out-of-range parts roll over instead of failing
  // (a part that is not digits is -1).
  if (year < 100 || month < 1 || month > 12 || day < 1) return null;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return null;
  const at = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  // ISO-8601 as toISOString writes it (milliseconds, truncated as above, and Z), made from the
  // text: toISOString takes about 1 µs a value.
  const iso =
    end >= 23
      ? `${text.slice(0, 23)}Z`
      : `${text.slice(0, 19)}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
  const date = new TextDate(at, iso);
  return date.getUTCDate() === day ? date : null;
}

/**
 * A Date read from PostgreSQL's text, with its ISO-8601 form: the DateTime scalar answers that
 * text instead of formatting the Date again, as long as the Date still holds the time it was
 * read with.
 */
export class TextDate extends Date {
  constructor(
    readonly at: number,
    readonly iso: string,
  ) {
    super(at);
  }
}

/** `value`'s ISO-8601 text as read, when it is a TextDate whose time has not been changed. */
export function isoAsRead(value: unknown): string | undefined {
  return value instanceof TextDate && value.getTime() === value.at ? value.iso : undefined;
}
