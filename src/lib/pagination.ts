import { ClassType, Field, Int, ObjectType } from 'type-graphql';
import { BadUserInputError } from '../errors';
import { isUuid } from './ids';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** `first` defaults to 20 and must be 1..100. */
export function pageSize(first: number | null | undefined, field = 'first'): number {
  if (first === undefined || first === null) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new BadUserInputError(`${field} must be between 1 and ${MAX_PAGE_SIZE}`, [field]);
  }
  return first;
}

/** The position of a row in one ordering: the sort key as text, and the id that breaks ties. */
export interface CursorPosition {
  /** Which ordering the cursor was made for, e.g. `CREATED_AT:DESC`. */
  order: string;
  key: string;
  id: string;
}

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.order, position.key, position.id])).toString(
    'base64url',
  );
}

/**
 * Reads an opaque cursor and checks it belongs to `order`; `keyPattern` checks the sort key so
 * that nothing malformed reaches SQL. Any problem is BAD_USER_INPUT on `field`.
 */
export function decodeCursor(
  cursor: string | null | undefined,
  order: string,
  keyPattern: RegExp,
  field = 'after',
): CursorPosition | null {
  if (cursor === undefined || cursor === null) return null;
  const bad = () => new BadUserInputError(`${field} is not a valid cursor for this list`, [field]);
  if (cursor.length > 512 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 3 ||
    parsed[0] !== order ||
    typeof parsed[1] !== 'string' ||
    typeof parsed[2] !== 'string' ||
    !keyPattern.test(parsed[1]) ||
    (keyPattern === TIMESTAMP_KEY && !isCalendarDate(parsed[1])) ||
    !isUuid(parsed[2])
  ) {
    throw bad();
  }
  return { order, key: parsed[1], id: parsed[2] };
}

/** The date part of a timestamp key exists (no 31 February), or the key is +/- infinity. */
function isCalendarDate(key: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(key);
  if (!m) return true;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day;
}

/** Sort keys that are timestamps as PostgreSQL prints them (or infinity). */
export const TIMESTAMP_KEY =
  /^(infinity|-infinity|(?!0000)\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[ T]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?([+-]\d{2}(:\d{2})?|Z)?)$/;

@ObjectType({
  simpleResolvers: true,
  description: 'Where a page sits in its list',
})
export class PageInfo {
  @Field(() => Boolean, {
    description: 'True when more rows follow: ask again with `after: endCursor`',
  })
  hasNextPage!: boolean;

  @Field(() => Boolean, { description: 'True when the page was asked for after a cursor' })
  hasPreviousPage!: boolean;

  @Field(() => String, {
    nullable: true,
    description: 'The cursor of the page’s first row; null for an empty page',
  })
  startCursor!: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'The cursor of the page’s last row, to pass as `after`; null for an empty page',
  })
  endCursor!: string | null;
}

/** One page of rows as a repository returns it, before it becomes a connection. */
export interface Page<T> {
  rows: T[];
  /** The cursor of `rows[index]`, encoded when asked for (most pages need only the last). */
  cursorAt(index: number): string;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

/** Where a connection's rows and count come from; each is loaded only if a field asks. */
export interface PageSource<T> {
  page(): Promise<Page<T>>;
  /** A number at once when it is already known (loaders.known). */
  count(): number | Promise<number>;
}

/**
 * A Relay connection class for `node`, with `<Name>Edge` and `<Name>Connection` types. Its
 * fields load lazily: asking only for `totalCount` runs only the count, and loads made by many
 * parents in one tick batch through DataLoaders.
 */
export function connectionType<T extends object>(node: ClassType<T>, name: string) {
  @ObjectType(`${name}Edge`, {
    simpleResolvers: true,
    description: `One ${name} of a page, with its cursor`,
  })
  class Edge {
    @Field(() => String, { description: 'Opaque; pass as `after` to continue after this row' })
    cursor!: string;

    @Field(() => node, { description: `The ${name} at this place in the list` })
    node!: T;
  }

  @ObjectType({ simpleResolvers: true })
  abstract class Connection {
    private loaded: Promise<Page<T>> | undefined;

    constructor(private readonly source: PageSource<T>) {}

    private load(): Promise<Page<T>> {
      return (this.loaded ??= this.source.page());
    }

    @Field(() => [Edge], {
      description: `This page’s ${name} rows, in list order, each with its cursor`,
    })
    async edges(): Promise<Edge[]> {
      const page = await this.load();
      return page.rows.map((row, i) => ({ cursor: page.cursorAt(i), node: row }));
    }

    @Field(() => [node], { description: 'The same rows as edges, without cursors' })
    async nodes(): Promise<T[]> {
      return (await this.load()).rows;
    }

    @Field(() => PageInfo, {
      description: 'Whether more rows follow, and the cursors to continue from',
    })
    async pageInfo(): Promise<PageInfo> {
      const page = await this.load();
      return {
        hasNextPage: page.hasNextPage,
        hasPreviousPage: page.hasPreviousPage,
        startCursor: page.rows.length > 0 ? page.cursorAt(0) : null,
        endCursor: page.rows.length > 0 ? page.cursorAt(page.rows.length - 1) : null,
      };
    }

    @Field(() => Int, { description: 'Rows in the whole list, with its filter' })
    totalCount(): number | Promise<number> {
      return this.source.count();
    }
  }
  return Connection;
}
