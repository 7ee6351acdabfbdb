import { GraphQLDateTime, GraphQLJSON } from 'graphql-scalars';

/** `DateTime` (ISO-8601) and `JSON`, named as the contract names them. */
export const DateTimeScalar = GraphQLDateTime;
export const JSONScalar = GraphQLJSON;
