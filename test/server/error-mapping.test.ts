import { ApolloServer } from '@apollo/server';
import { buildSchema, GraphQLError } from 'graphql';
import {
  BadUserInputError,
  ForbiddenError,
  InvalidCredentialsError,
  RateLimitedError,
  UnauthenticatedError,
} from '../../src/errors';
import { formatError } from '../../src/http/errors';

/**
 * The error mapping (src/http/errors.ts) on the errors Apollo and graphql-js really raise, each
 * told apart by class or code where they give one: a real ApolloServer, no HTTP (the HTTP
 * paths are covered by the server suites; these reach branches their limits keep shut).
 */
const schema = buildSchema(`
  input Point { x: Int! }
  type Query { sum(values: [Int]): Int, at(point: Point!): Int, boom: Int }
`);
const rootValue = {
  sum: ({ values }: { values: number[] }) => values.reduce((a, b) => a + b, 0),
  at: ({ point }: { point: { x: number } }) => point.x,
  boom: () => {
    throw new Error('secret detail from a bug');
  },
};

async function errorsOf(
  server: ApolloServer,
  query: string,
  variables?: Record<string, unknown>,
): Promise<Array<{ message: string; extensions?: Record<string, unknown> }>> {
  const { body } = await server.executeOperation({ query, variables });
  if (body.kind !== 'single') throw new Error('expected a single result');
  return (body.singleResult.errors ?? []) as never;
}

function serve(options: { introspection: boolean; maxTokens?: number }) {
  return new ApolloServer({
    schema,
    rootValue,
    introspection: options.introspection,
    formatError: formatError(),
    parseOptions: options.maxTokens ? { maxTokens: options.maxTokens } : {},
  });
}

describe('error mapping', () => {
  let closed: ApolloServer;
  let open: ApolloServer;
  beforeAll(async () => {
    closed = serve({ introspection: false, maxTokens: 200 });
    open = serve({ introspection: true });
    await Promise.all([closed.start(), open.start()]);
  });
  afterAll(() => Promise.all([closed.stop(), open.stop()]));

  it('a parser out of stack (a RangeError under the parse error) is QUERY_TOO_COMPLEX', async () => {
    const depth = 200_000;
    const errors = await errorsOf(
      open,
      `{ sum(values: ${'['.repeat(depth)}1${']'.repeat(depth)}) }`,
    );
    expect(errors).toEqual([
      { message: 'The document is nested too deeply', extensions: { code: 'QUERY_TOO_COMPLEX' } },
    ]);
  });

  it("graphql-js's token limit is QUERY_TOO_COMPLEX; an ordinary syntax error is BAD_USER_INPUT", async () => {
    const many = await errorsOf(closed, `{ sum(values: [${'1,'.repeat(300)}1]) }`);
    expect(many).toHaveLength(1);
    expect(many[0]!.extensions).toEqual({ code: 'QUERY_TOO_COMPLEX' });
    const broken = await errorsOf(closed, `{ sum(values: [1 }`);
    expect(broken[0]!.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: [] });
  });

  it("introspection refused by Apollo's rule (its validationErrorCode) is BAD_USER_INPUT", async () => {
    const errors = await errorsOf(closed, `{ __schema { queryType { name } } }`);
    expect(errors[0]).toMatchObject({
      message: 'Introspection is disabled on this server',
      extensions: { code: 'BAD_USER_INPUT', fields: [] },
    });
  });

  it("graphql-js's MaxIntrospectionDepthRule is QUERY_TOO_COMPLEX", async () => {
    const errors = await errorsOf(
      open,
      `{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }`,
    );
    expect(errors).toEqual([
      {
        message: 'Maximum introspection depth exceeded',
        extensions: { code: 'QUERY_TOO_COMPLEX' },
      },
    ]);
  });

  it('an input error names the field; a bug leaves as INTERNAL_SERVER_ERROR without its detail', async () => {
    const input = await errorsOf(open, `query($p: Point!) { at(point: $p) }`, { p: {} });
    expect(input[0]!.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: ['x'] });
    const bug = await errorsOf(open, `{ boom }`);
    expect(bug).toEqual([
      {
        message: 'Internal server error',
        path: ['boom'],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      },
    ]);
  });
});

describe('coded errors (src/errors.ts)', () => {
  it('are made without a stack trace, and leave the limit as it was for every other error', () => {
    const limit = Error.stackTraceLimit;
    for (const error of [
      new RateLimitedError(3),
      new UnauthenticatedError(),
      new InvalidCredentialsError(),
      new ForbiddenError(),
      new BadUserInputError('Bad title', ['input.title']),
    ]) {
      expect(error).toBeInstanceOf(GraphQLError);
      expect(error.stack).not.toMatch(/\n\s+at /);
      // Still the contract's error: its code and extras as before.
      expect(error.extensions.code).toEqual(expect.any(String));
    }
    expect(new RateLimitedError(3).extensions).toEqual({ code: 'RATE_LIMITED', retryAfter: 3 });
    expect(Error.stackTraceLimit).toBe(limit);
    // A fault keeps its stack: the log line of a bug prints it.
    expect(new Error('a bug').stack).toMatch(/\n\s+at /);
    expect(new GraphQLError('from graphql-js').stack).toMatch(/\n\s+at /);
  });
});
