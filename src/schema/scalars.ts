import { GraphQLError, GraphQLScalarType, type ValueNode } from 'graphql';
import { GraphQLDateTime, GraphQLJSON } from 'graphql-scalars';

/** Years PostgreSQL's timestamptz and JavaScript's Date both hold without surprises. */
function inRange(value: Date): Date {
  const year = value.getUTCFullYear();
  if (year < 1 || year > 9999) {
    throw new GraphQLError('DateTime must be between the years 0001 and 9999');
  }
  return value;
}

/** `DateTime` (ISO-8601, as graphql-scalars reads it), limited to the years 1..9999. */
export const DateTimeScalar = new GraphQLScalarType<Date, Date>({
  ...GraphQLDateTime.toConfig(),
  name: 'DateTime',
  parseValue: (value: unknown) => inRange(GraphQLDateTime.parseValue(value) as Date),
  parseLiteral: (ast: ValueNode, variables?: Record<string, unknown> | null) =>
    inRange(GraphQLDateTime.parseLiteral(ast, variables) as Date),
});

export const JSONScalar = GraphQLJSON;
