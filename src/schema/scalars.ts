import { GraphQLError, GraphQLScalarType, type ValueNode } from 'graphql';
import { GraphQLDateTime, GraphQLJSON } from 'graphql-scalars';
import { isoAsRead } from '../lib/rows';

/** Years PostgreSQL's timestamptz and JavaScript's Date both hold without surprises. */
function inRange(value: Date): Date {
  const year = value.getUTCFullYear();
  if (year < 1 || year > 9999) {
    throw new GraphQLError('DateTime must be between the years 0001 and 9999');
  }
  return value;
}

/** `DateTime` (ISO-8601, as graphql-scalars reads it), limited to the years 1..9999. */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  ...GraphQLDateTime.toConfig(),
  name: 'DateTime',
  description: `${GraphQLDateTime.description} Input must fall in the years 0001 to 9999.`,
  // graphql-scalars answers the Date itself, which JSON.stringify then turns into the same text
  // through Date.prototype.toJSON, at ~2 µs a value (the tasks page has 40): the text is made here.
  // A timestamp read from a page's JSON (lib/rows.ts) comes with that text already.
  serialize: (value: unknown) =>
    isoAsRead(value) ?? (GraphQLDateTime.serialize(value) as Date).toISOString(),
  parseValue: (value: unknown) => inRange(GraphQLDateTime.parseValue(value) as Date),
  parseLiteral: (ast: ValueNode, variables?: Record<string, unknown> | null) =>
    inRange(GraphQLDateTime.parseLiteral(ast, variables) as Date),
});

/** How deep a JSON argument may nest: deeper is refused before anything walks it recursively. */
export const MAX_JSON_DEPTH = 64;

function withinDepth<T>(value: T): T {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (depth > MAX_JSON_DEPTH) {
      throw new GraphQLError(`JSON is nested deeper than ${MAX_JSON_DEPTH} levels`);
    }
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return value;
}

/**
 * `JSON` (graphql-scalars), refusing values nested deeper than MAX_JSON_DEPTH: type-graphql's
 * argument conversion recurses into arrays, and a few kilobytes of `[[[…]]]` would otherwise
 * overflow the stack.
 */
export const JSONScalar = new GraphQLScalarType({
  ...GraphQLJSON.toConfig(),
  name: 'JSON',
  description: `${GraphQLJSON.description} Input may nest at most ${MAX_JSON_DEPTH} levels deep.`,
  parseValue: (value: unknown) => withinDepth(GraphQLJSON.parseValue(value)),
  parseLiteral: (ast: ValueNode, variables?: Record<string, unknown> | null) =>
    withinDepth(GraphQLJSON.parseLiteral(ast, variables)),
});
