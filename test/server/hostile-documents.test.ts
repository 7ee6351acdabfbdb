import { getIntrospectionQuery, Lexer, Source, TokenKind } from 'graphql';
import pino from 'pino';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { CONTRACT_ERROR_CODES, expectNoErrors, type GraphQLResponse } from '../helpers/graphql';
import { unique, type SeededUser } from '../helpers/seed';

/**
 * Documents crafted to make graphql-js validation (or execution) do far more work than their
 * size suggests, most sized at the default token limit, some near the body limit. Each must be
 * refused with a contract code and HTTP 400 before validation, at the cost of a parse: no SQL
 * runs, not even the caller's authentication, and the CPU the request takes is bounded. Real
 * operations must still pass.
 */
const { queryMaxTokens: MAX_TOKENS, queryMaxDepth: MAX_DEPTH } = loadConfig({ NODE_ENV: 'test' });

/**
 * The most CPU a refused document may cost this process (server and client, both in it), as the
 * best of five tries. A refusal costs 2 to 10 ms here; past the old pre-check these documents cost
 * from a few ms to over 100 ms of validation. Generous: two cores, other test files beside.
 */
const MAX_CPU_MS = 40;

const repeat = (n: number, item: (i: number) => string, separator = ' ') =>
  Array.from({ length: n }, (_, i) => item(i)).join(separator);

function tokens(source: string): number {
  const lexer = new Lexer(new Source(source));
  let n = 0;
  while (lexer.advance().kind !== TokenKind.EOF) n += 1;
  return n;
}

/** The largest document `make(n)` within the token limit: as big as an attacker may send. */
function atTokenLimit(make: (n: number) => string): string {
  let low = 1;
  let high = 2;
  while (tokens(make(high)) <= MAX_TOKENS) high *= 2;
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (tokens(make(mid)) <= MAX_TOKENS) low = mid;
    else high = mid;
  }
  return make(low);
}

const TASK_FIELDS = `id title description status priority dueDate completedAt createdAt updatedAt owner { id }`;

/** Log lines above info, from every app of this file. */
const loud: string[] = [];
const logger = pino(
  { level: 'info' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        if (line && (JSON.parse(line) as { level: number }).level > 30) loud.push(line);
      }
      done();
    },
  }),
);

let t: TestApp;
/** With room for a thousand operations under the token limit. */
let roomy: TestApp;
let u: SeededUser;
beforeAll(async () => {
  [t, roomy] = await Promise.all([
    startTestApp({}, { logger }),
    startTestApp({ queryMaxTokens: 20_000 }, { logger }),
  ]);
  u = await t.seed.user();
  await t.seed.task(u, { title: 'Hostile fixture' });
});
afterAll(async () => {
  await Promise.all([t?.close(), roomy?.close()]);
});

interface Request {
  query: string;
  operationName?: string;
  variables?: Record<string, unknown>;
}

async function post(app: TestApp, body: Request): Promise<GraphQLResponse> {
  const res = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${u.accessToken}` },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Pick<GraphQLResponse, 'data' | 'errors'>;
  return { status: res.status, headers: res.headers, ...json };
}

/** The response, the SQL it ran, and the least CPU (ms) of five tries after a warm-up. */
async function measured(app: TestApp, body: Request) {
  let res = await post(app, body);
  let cpuMs = Infinity;
  let sql: string[] = [];
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const before = process.cpuUsage();
    sql = await app.countQueries(async () => {
      res = await post(app, body);
    });
    const used = process.cpuUsage(before);
    cpuMs = Math.min(cpuMs, (used.user + used.system) / 1000);
  }
  return { res, sql, cpuMs };
}

interface Hostile {
  name: string;
  request: () => Request;
  /** The expected refusal: a code and, for QUERY_TOO_COMPLEX, the limit and what it measured. */
  code: 'QUERY_TOO_COMPLEX' | 'BAD_USER_INPUT';
  extensions?: Record<string, unknown>;
  app?: () => TestApp;
}

/** A query `depth` levels deep, as QUERY_MAX_DEPTH counts them (as in query-limits.test.ts). */
function deepQuery(depth: number): string {
  const chain = ['tasks(first: 1)', 'nodes', 'owner'];
  let inner = '__typename';
  for (let level = depth - 2; level >= 1; level -= 1) {
    inner = `${chain[(level - 1) % 3]} { ${inner} }`;
  }
  return `{ me { ${inner} } }`;
}

const exponential = () => {
  let doc = `query { me { ...F0 } }\n`;
  for (let i = 0; i < 40; i += 1)
    doc += `fragment F${i} on User { id ...F${i + 1} ...F${i + 1} }\n`;
  return `${doc}fragment F40 on User { id }`;
};

const HOSTILE: Hostile[] = [
  {
    name: 'one fragment spread 400 times',
    request: () => ({ query: `{ ${'...F '.repeat(400)}} fragment F on Query { plans { tier } }` }),
    code: 'QUERY_TOO_COMPLEX',
    extensions: { limit: 'repeats', field: 'plans', repeats: 400, maxRepeats: 20 },
  },
  {
    name: 'one fragment spread up to the token limit',
    request: () => ({
      query: atTokenLimit((n) => `{ ${'...F '.repeat(n)}} fragment F on Query { plans { tier } }`),
    }),
    code: 'QUERY_TOO_COMPLEX',
    extensions: { limit: 'selections' },
  },
  {
    name: 'distinct fragments that each bring the same field (the 150 ms document, scaled down)',
    request: () => ({
      query: `{ ${repeat(40, (i) => `...F${i}`)} } ${repeat(40, (i) => `fragment F${i} on Query { plans { tier } }`)}`,
    }),
    code: 'QUERY_TOO_COMPLEX',
    extensions: { limit: 'repeats', field: 'plans', repeats: 40 },
  },
  {
    name: 'fragments spreading each other twice, 40 deep (2^40 fields)',
    request: () => ({ query: exponential() }),
    code: 'QUERY_TOO_COMPLEX',
    extensions: { limit: 'selections' },
  },
  {
    name: 'fields of many fragments repeated through nested spreads',
    request: () => ({
      query: `{ tasks(first: 1) { nodes { ...A } } } fragment A on Task { ${repeat(30, (i) => `...T${i % 10}`)} } ${repeat(10, (i) => `fragment T${i} on Task { ${TASK_FIELDS} }`)}`,
    }),
    code: 'QUERY_TOO_COMPLEX',
    extensions: { limit: 'repeats', field: 'id', repeats: 30 },
  },
  {
    name: 'many-field fragments spread many times, up to the token limit',
    request: () => ({
      query: atTokenLimit(
        (n) =>
          `{ tasks(first: 1) { nodes { ${repeat(n, (i) => `...T${i % 10}`)} } } } ${repeat(10, (i) => `fragment T${i} on Task { ${TASK_FIELDS} }`)}`,
      ),
    }),
    code: 'QUERY_TOO_COMPLEX',
  },
  {
    name: 'the same field selected 20 times in each of 20 repeats (nested repeats)',
    request: () => ({
      query: `{ ${repeat(20, () => `me { ${repeat(5, () => `tasks { nodes { id } }`)} }`)} }`,
    }),
    code: 'QUERY_TOO_COMPLEX',
    extensions: { limit: 'comparisons' },
  },
  {
    name: 'a directive flood (@skip(if: false) over and over)',
    request: () => ({
      query: atTokenLimit((n) => `{ plans { tier ${'@skip(if: false) '.repeat(n)}} }`),
    }),
    code: 'QUERY_TOO_COMPLEX',
    extensions: { limit: 'directives', maxDirectives: 50 },
  },
  {
    name: 'a thousand operations',
    request: () => ({
      query: repeat(1_001, (i) => `query Q${i} { me { id } }`),
      operationName: 'Q0',
    }),
    app: () => roomy,
    code: 'QUERY_TOO_COMPLEX',
    extensions: { limit: 'operations', operations: 1_001, maxOperations: 20 },
  },
  {
    name: 'as many operations as the default token limit holds',
    request: () => ({
      query: atTokenLimit((n) => repeat(n, (i) => `query Q${i} { me { id } }`)),
      operationName: 'Q0',
    }),
    code: 'QUERY_TOO_COMPLEX',
    extensions: { limit: 'operations', maxOperations: 20 },
  },
  {
    name: 'many fragment definitions',
    request: () => ({
      query: atTokenLimit(
        (n) =>
          `{ plans { tier } } ${repeat(n, (i) => `fragment F${i} on Query { plans { tier } }`)}`,
      ),
    }),
    code: 'QUERY_TOO_COMPLEX',
    extensions: { limit: 'fragments', maxFragments: 50 },
  },
  {
    name: 'a fragment cycle',
    request: () => ({
      query: `{ ...A } fragment A on Query { plans { tier } ...B } fragment B on Query { ...A }`,
    }),
    code: 'BAD_USER_INPUT',
    extensions: { fields: [] },
  },
  {
    name: 'a cycle through 50 fragments (7 ms of fields-can-merge before graphql-js refuses it)',
    request: () => ({
      query: `{ ...F0 } ${repeat(50, (i) => `fragment F${i} on Query { plans { tier } ...F${(i + 1) % 50} }`)}`,
    }),
    code: 'BAD_USER_INPUT',
    extensions: { fields: [] },
  },
  {
    name: 'a 200 KB string argument',
    request: () => ({
      query: `{ tasks(filter: { search: "${'x'.repeat(200_000)}" }) { totalCount } }`,
    }),
    code: 'QUERY_TOO_COMPLEX',
    extensions: { limit: 'length', maxLength: 32_768 },
  },
  {
    name: 'a long list literal',
    request: () => ({
      query: atTokenLimit(
        (n) => `{ tasks(filter: { status: [${'TODO '.repeat(n)}] }) { totalCount } }`,
      ),
    }),
    code: 'QUERY_TOO_COMPLEX',
    extensions: { limit: 'values', maxValues: 250 },
  },
  {
    name: 'a long variable list',
    request: () => ({
      query: atTokenLimit((n) => `query(${repeat(n, (i) => `$v${i}: Int`)}) { plans { tier } }`),
    }),
    code: 'QUERY_TOO_COMPLEX',
    extensions: { limit: 'variables', maxVariables: 50 },
  },
  {
    name: 'nesting as deep as the tokens allow',
    request: () => ({
      query: atTokenLimit(
        (n) => `{ me { ${'tasks { nodes { owner { '.repeat(n)}id${' } } }'.repeat(n)} } }`,
      ),
    }),
    code: 'QUERY_TOO_COMPLEX',
    extensions: { limit: 'nesting' },
  },
  {
    name: 'one level deeper than the depth limit',
    request: () => ({ query: deepQuery(MAX_DEPTH + 1) }),
    code: 'QUERY_TOO_COMPLEX',
    extensions: { limit: 'depth', depth: MAX_DEPTH + 1, maxDepth: MAX_DEPTH },
  },
  {
    name: 'an alias flood',
    request: () => ({
      query: atTokenLimit((n) => `{ ${repeat(n, (i) => `a${i}: plans { tier }`)} }`),
    }),
    code: 'QUERY_TOO_COMPLEX',
    extensions: { limit: 'aliases', maxAliases: 30 },
  },
  {
    name: 'validation errors after thousands of lines (each error scans every line before it)',
    request: () => ({ query: `${'\n'.repeat(30_000)}{ ${repeat(100, (i) => `x${i}`)} }` }),
    code: 'QUERY_TOO_COMPLEX',
    extensions: { limit: 'lines', maxLines: 1_000 },
  },
  {
    name: 'a subscription (the schema has no Subscription root)',
    request: () => ({ query: `subscription { plans { tier } }` }),
    code: 'BAD_USER_INPUT',
    extensions: { fields: [] },
  },
  {
    name: 'a subscription chosen by operationName beside a query',
    request: () => ({
      query: `query Q { plans { tier } } subscription S { plans { tier } }`,
      operationName: 'S',
    }),
    code: 'BAD_USER_INPUT',
    extensions: { fields: [] },
  },
];

describe('hostile documents', () => {
  it('are sized at the limits they aim at', () => {
    for (const hostile of HOSTILE) {
      const { query } = hostile.request();
      if (query.length > 32_768) continue;
      expect(tokens(query)).toBeLessThanOrEqual(hostile.app ? 20_000 : MAX_TOKENS);
    }
  });

  it.each(HOSTILE.map((h) => [h.name, h] as const))(
    '%s: refused with its code and HTTP 400 before anything runs, fast',
    async (_name, hostile) => {
      const { res, sql, cpuMs } = await measured(hostile.app?.() ?? t, hostile.request());
      expect(res.status).toBe(400);
      expect(res.data ?? null).toBeNull();
      expect(res.errors).toHaveLength(1);
      const error = res.errors![0]!;
      expect(error.extensions?.code).toBe(hostile.code);
      if (hostile.extensions) expect(error.extensions).toMatchObject(hostile.extensions);
      expect(CONTRACT_ERROR_CODES).toContain(error.extensions?.code);
      // Refused before Apollo: not even the caller's session was read.
      expect(sql).toEqual([]);
      expect(cpuMs).toBeLessThan(MAX_CPU_MS);
    },
  );

  it('a subscription is a client error that nothing logs above info', async () => {
    const res = await post(t, { query: `subscription { plans { tier } }` });
    expect(res.errors?.[0]?.message).toBe(
      'This server serves queries and mutations, not subscriptions',
    );
    // The query beside it still runs when operationName picks it.
    const query = await post(t, {
      query: `query Q { plans { tier } } subscription S { plans { tier } }`,
      operationName: 'Q',
    });
    expect(expectNoErrors(query).plans.length).toBeGreaterThan(0);
    expect(loud).toEqual([]);
  });

  it('many fields the schema lacks are refused before validation; a few get graphql-js’s own errors', async () => {
    const many = await post(t, {
      query: `{ ${Array.from({ length: 1_000 }, (_, i) => `x${i}`).join(' ')} }`,
    });
    expect(many.status).toBe(400);
    expect(many.errors).toHaveLength(1);
    expect(many.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(many.errors?.[0]?.message).toBe(
      'Cannot query field "x0" on type "Query", and more than 10 fields the schema does not have',
    );
    // Nested, through fragments: each field looked up on its own type.
    const nested = await post(t, {
      query: `{ me { ...F } } fragment F on User { ${Array.from({ length: 11 }, (_, i) => `y${i}`).join(' ')} tasks { nodes { ... on Task { zz } } } }`,
    });
    expect(nested.errors?.[0]?.message).toMatch(
      /^Cannot query field "y0" on type "User", and more/,
    );
    // Ten or fewer: validation's own messages, suggestions included.
    const few = await post(t, { query: `{ plan { tier } }` });
    expect(few.status).toBe(400);
    expect(few.errors?.[0]?.message).toMatch(
      /Cannot query field "plan" on type "Query". Did you mean "plans"/,
    );
  });

  it('a document that does not parse is still Apollo’s to refuse (token limit, syntax)', async () => {
    const over = await post(t, { query: `{ me { ${'id '.repeat(MAX_TOKENS)}} }` });
    expect(over.status).toBe(400);
    expect(over.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect(over.errors?.[0]?.message).toMatch(new RegExp(`${MAX_TOKENS} tokens`));
    const broken = await post(t, { query: `{ me { id }` });
    expect(broken.status).toBe(400);
    expect(broken.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('real operations still pass', () => {
  it('the dashboard, twice (the second time from the verdict cache), and GraphQL IDEs’ introspection', async () => {
    const dashboard = `{
      me { id name subscription { plan { tier monthlyTokenQuota } tokensUsed tokensRemaining }
           tasks(first: 20) { totalCount nodes { id title owner { id } } } }
      tasks(first: 100) { totalCount edges { cursor node { id title status priority } } pageInfo { hasNextPage } }
      tools(first: 20) { nodes { slug name requiredTier inputSchema } }
      myUsage { calls totalTokens byTool { tool { slug } calls } byDay { day calls } }
      usageRecords(first: 100) { totalCount nodes { id tool { slug } } }
      plans { tier }
    }`;
    for (let i = 0; i < 2; i += 1) {
      const data = expectNoErrors(await post(t, { query: dashboard }));
      expect(data.me.id).toBe(u.id);
      expect(data.tasks.edges.map((e: any) => e.node.title)).toEqual(['Hostile fixture']);
    }
    for (const options of [
      {},
      {
        descriptions: true,
        specifiedByUrl: true,
        directiveIsRepeatable: true,
        schemaDescription: true,
        inputValueDeprecation: true,
      },
    ]) {
      const data = expectNoErrors(await post(t, { query: getIntrospectionQuery(options) }));
      expect(data.__schema.queryType.name).toBe('Query');
    }
  });

  it('a batch of 25 aliased createTask mutations with a variable each (the tests’ fixture)', async () => {
    const title = unique('batch');
    const vars = repeat(25, (i) => `$i${i}: CreateTaskInput!`, ', ');
    const fields = repeat(25, (i) => `t${i}: createTask(input: $i${i}) { ${TASK_FIELDS} }`, '\n');
    const variables = Object.fromEntries(
      Array.from({ length: 25 }, (_, i) => [`i${i}`, { title }]),
    );
    const data = expectNoErrors(
      await post(t, { query: `mutation(${vars}) { ${fields} }`, variables }),
    );
    expect(Object.values(data).map((task: any) => task.title)).toEqual(Array(25).fill(title));
  });

  it('just under the caps passes: 20 repeats, fragments at several levels, the depth limit', async () => {
    expectNoErrors(await post(t, { query: `{ plans { ${'tier '.repeat(20)}} }` }));
    expectNoErrors(
      await post(t, {
        query: `{ me { ...U tasks(first: 1) { nodes { ...T owner { ...U } } } } }
          fragment U on User { id name __typename }
          fragment T on Task { id title __typename owner { id } }`,
      }),
    );
    expectNoErrors(await post(t, { query: deepQuery(MAX_DEPTH) }));
  });
});
