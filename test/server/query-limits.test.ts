import { getIntrospectionQuery, Lexer, Source, TokenKind } from 'graphql';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import {
  expectErrorCode,
  expectNoErrors,
  type GraphQLResponse,
  CONTRACT_ERROR_CODES,
} from '../helpers/graphql';
import { unique, type SeededUser } from '../helpers/seed';

/** Limits spelled out, so that the boundaries below are explicit (the defaults are lower). */
const LIMITS = {
  queryMaxDepth: 10,
  queryMaxAliases: 30,
  queryMaxCost: 20_000,
  queryMaxTokens: 5_000,
};

let t: TestApp;
let small: TestApp;
let u: SeededUser;
beforeAll(async () => {
  [t, small] = await Promise.all([
    startTestApp(LIMITS),
    startTestApp({ queryMaxDepth: 4, queryMaxAliases: 3, queryMaxCost: 200, queryMaxTokens: 200 }),
  ]);
  u = await t.seed.user();
  await t.seed.task(u, { title: 'Limits fixture' });
});
afterAll(async () => {
  await Promise.all([t?.close(), small?.close()]);
});

async function call<T = Record<string, any>>(
  app: TestApp,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphQLResponse<T>> {
  const res = await app.gql<T>(query, variables, u.accessToken);
  return res;
}

/** Refused with QUERY_TOO_COMPLEX (HTTP 400), no data, and no SQL beyond authentication. */
async function expectRefused(
  app: TestApp,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  let res!: GraphQLResponse;
  const statements = await app.countQueries(async () => {
    res = await call(app, query, variables);
  });
  const err = expectErrorCode(res, 'QUERY_TOO_COMPLEX');
  expect(res.errors).toHaveLength(1);
  expect(res.status).toBe(400);
  expect(res.data ?? null).toBeNull();
  // Only the statement that reads the caller's session ran: no resolver touched the database.
  expect(statements.filter((sql) => !/ from session_account\(/.test(sql))).toEqual([]);
  return err.extensions!;
}

/**
 * A query `depth` levels deep (the operation's own selection set is level 1):
 * me → tasks → nodes → owner → tasks → …, each page of one row so that cost stays low.
 */
function deepQuery(depth: number): string {
  const chain = ['tasks(first: 1)', 'nodes', 'owner'];
  let inner = '__typename';
  for (let level = depth - 2; level >= 1; level -= 1) {
    inner = `${chain[(level - 1) % 3]} { ${inner} }`;
  }
  return `{ me { ${inner} } }`;
}

describe('normal queries', () => {
  it('pass: a dashboard query, pagination at 100, and the standard introspection query of GraphQL IDEs', async () => {
    const dashboard = expectNoErrors(
      await call(
        t,
        `{
          me { id name subscription { plan { tier monthlyTokenQuota } tokensUsed tokensRemaining }
               tasks(first: 20) { totalCount nodes { id title owner { id } } } }
          tasks(first: 100) { totalCount edges { cursor node { id title status priority } } pageInfo { hasNextPage } }
          tools(first: 20) { nodes { slug name requiredTier inputSchema } }
          myUsage { calls totalTokens byTool { tool { slug } calls } byDay { day calls } }
          usageRecords(first: 100) { totalCount nodes { id tool { slug } } }
          plans { tier }
        }`,
      ),
    );
    expect(dashboard.me.id).toBe(u.id);
    expect(dashboard.tasks.edges.map((e: any) => e.node.title)).toEqual(['Limits fixture']);
    expect(dashboard.tools.nodes.length).toBeGreaterThanOrEqual(3);

    const introspection = expectNoErrors(
      await call(
        t,
        getIntrospectionQuery({
          descriptions: true,
          specifiedByUrl: true,
          directiveIsRepeatable: true,
          schemaDescription: true,
          inputValueDeprecation: true,
        }),
      ),
    );
    expect(introspection.__schema.queryType.name).toBe('Query');
  });

  it('pass exactly at each limit', async () => {
    expect(expectNoErrors(await call(t, deepQuery(10))).me).toBeTruthy();
    expect(expectNoErrors(await call(small, deepQuery(4))).me).toBeTruthy();
    const aliases = (n: number) =>
      `{ me { ${Array.from({ length: n }, (_, i) => `a${i}: id`).join(' ')} } }`;
    const thirty = expectNoErrors(await call(t, aliases(30)));
    expect(thirty.me.a29).toBe(u.id);
    expectNoErrors(await call(small, aliases(3)));
    // 1 + 50 × (1 + 1 + 1 + 100 × 2) = 10,151
    expectNoErrors(
      await call(
        t,
        `query($a: Int, $b: Int) { tasks(first: $a) { nodes { owner { tasks(first: $b) { nodes { id } } } } } }`,
        { a: 50, b: 100 },
      ),
    );
  });
});

describe('refused with QUERY_TOO_COMPLEX before anything runs', () => {
  it('a query one level too deep, however it is nested', async () => {
    expect(await expectRefused(t, deepQuery(11))).toMatchObject({ depth: 11, maxDepth: 10 });
    expect(await expectRefused(small, deepQuery(5))).toMatchObject({ depth: 5, maxDepth: 4 });
    expect(await expectRefused(t, deepQuery(40))).toMatchObject({ depth: 40 });
    // Fragments and inline fragments add no level of their own, and hide none either.
    const viaFragments = `query { me { ...A } }
      fragment A on User { tasks(first: 1) { ... on TaskConnection { ...B } } }
      fragment B on TaskConnection { nodes { owner { id } } }`;
    expect(await expectRefused(small, viaFragments)).toMatchObject({ depth: 5 });
    expectNoErrors(
      await call(
        small,
        `query { me { ...A } } fragment A on User { tasks(first: 1) { ... on TaskConnection { nodes { id } } } }`,
      ),
    );
    // Introspection counts too; only `ofType`, which unwraps a single type, is not a level.
    expect(
      await expectRefused(small, `{ __schema { types { fields { type { name } } } } }`),
    ).toMatchObject({ depth: 5 });
    expectNoErrors(await call(small, `{ __schema { types { fields { name } } } }`));
    expectNoErrors(
      await call(small, `{ __schema { types { ofType { ofType { ofType { name } } } } } }`),
    );
  });

  it('too many aliases, fragments counted at every spread', async () => {
    const aliases = (n: number) =>
      `{ me { ${Array.from({ length: n }, (_, i) => `a${i}: id`).join(' ')} } }`;
    expect(await expectRefused(t, aliases(31))).toMatchObject({ aliases: 31, maxAliases: 30 });
    expect(await expectRefused(small, aliases(4))).toMatchObject({ aliases: 4, maxAliases: 3 });
    expect(
      await expectRefused(
        small,
        `{ me { ...F ...G } } fragment F on User { a: id b: id } fragment G on User { ...F }`,
      ),
    ).toMatchObject({ aliases: 4 });
  });

  it('mutations under a refused document do not run: 31 aliased createTask write nothing', async () => {
    const title = unique('alias-bomb');
    const doc = `mutation { ${Array.from(
      { length: 31 },
      (_, i) => `t${i}: createTask(input: { title: "${title}" }) { id }`,
    ).join(' ')} }`;
    await expectRefused(t, doc);
    const count = expectNoErrors(
      await call(t, `query($s: String!) { tasks(filter: { search: $s }) { totalCount } }`, {
        s: title,
      }),
    );
    expect(count.tasks.totalCount).toBe(0);
  });

  it('a too costly query: nested connections of 100, with literals or variables', async () => {
    const nested = `tasks(first: 100) { nodes { owner { tasks(first: 100) { nodes { id } } } } }`;
    // 1 + 100 × (1 + 1 + 1 + 100 × 2) = 20,301
    expect(await expectRefused(t, `{ ${nested} }`)).toMatchObject({
      cost: 20_301,
      maxCost: 20_000,
    });
    expect(
      await expectRefused(
        t,
        `query($a: Int, $b: Int) { tasks(first: $a) { nodes { owner { tasks(first: $b) { nodes { id } } } } } }`,
        { a: 100, b: 100 },
      ),
    ).toMatchObject({ cost: 20_301 });
    // The default page size counts: 1 + 20 × (nodes 1 + 8 fields + a description's 50) = 1,181
    // > 200; 3 rows cost 178.
    const fields = `id title description status priority dueDate completedAt createdAt updatedAt`;
    expect(await expectRefused(small, `{ tasks { nodes { ${fields} } } }`)).toMatchObject({
      cost: 1_181,
      maxCost: 200,
    });
    expectNoErrors(await call(small, `{ tasks(first: 3) { nodes { ${fields} } } }`));
    // Aliases cannot spread the cost out of sight: each half passes, both together do not.
    const half = (alias: string) =>
      `${alias}: tasks(first: 100) { nodes { owner { tasks(first: 60) { nodes { id } } } } }`;
    expectNoErrors(await call(t, `{ ${half('a')} }`));
    // 2 × (1 + 100 × (1 + 1 + 1 + 60 × 2)) = 24,602
    expect(await expectRefused(t, `{ ${half('a')} ${half('b')} }`)).toMatchObject({
      cost: 24_602,
    });
  });

  it('fragments spread into each other exponentially are refused at once', async () => {
    let doc = `query { me { ...F0 } }\n`;
    for (let i = 0; i < 40; i += 1)
      doc += `fragment F${i} on User { id ...F${i + 1} ...F${i + 1} }\n`;
    doc += `fragment F40 on User { id }\n`;
    const started = Date.now();
    await expectRefused(t, doc);
    expect(Date.now() - started).toBeLessThan(3_000);
    const aliased = doc.replace(/\{ id \.\.\./g, '{ a: id ...');
    await expectRefused(t, aliased);
  });

  it('over GET as well', async () => {
    const res = await fetch(`${t.url}/graphql?query=${encodeURIComponent(deepQuery(11))}`, {
      headers: { authorization: `Bearer ${u.accessToken}`, 'apollo-require-preflight': 'true' },
    });
    const body = (await res.json()) as { errors: { extensions: { code: string } }[] };
    expect(res.status).toBe(400);
    expect(body.errors.map((e) => e.extensions.code)).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('bad variables are BAD_USER_INPUT, not an internal error, even though cost reads them', async () => {
    const res = await call(t, `query($n: Int) { tasks(first: $n) { totalCount } }`, { n: 'many' });
    expect(res.status).toBe(400);
    expect(expectErrorCode(res, 'BAD_USER_INPUT').extensions?.fields).toEqual(['n']);
  });

  it('one field selected over and over in one selection set, before validation compares every pair', async () => {
    const res = await t.gql(`{ ${'plans { tier } '.repeat(1200)} }`);
    expect(res.status).toBe(400);
    const err = expectErrorCode(res, 'QUERY_TOO_COMPLEX');
    expect(err.extensions).toMatchObject({ field: 'plans', repeats: 1200, maxRepeats: 20 });
    // Also inside inline fragments and deeper down; 20 repeats are still fine.
    expectErrorCode(
      await t.gql(`{ plans { ${'... on Plan { tier } '.repeat(21)} } }`),
      'QUERY_TOO_COMPLEX',
    );
    expectNoErrors(await t.gql(`{ plans { ${'tier '.repeat(20)} } }`));
  });

  it('an over-long document (more tokens than QUERY_MAX_TOKENS)', async () => {
    const long = `{ tasks(filter: { status: [${'TODO '.repeat(5_000)}] }) { totalCount } }`;
    expect(await expectRefused(t, long)).toBeDefined();
    expect(await expectRefused(small, `{ me { ${'id '.repeat(200)} } }`)).toBeDefined();
  });

  it('an over-long document is refused before it runs (status 400, no data); just under the limit passes', async () => {
    // Several operations, one of them chosen: at most 20 operations fit any document.
    const doc = (n: number) =>
      `query Chosen { me { id } } ${Array.from({ length: n }, (_, i) => `query Q${i} { me { id email name role isActive createdAt } }`).join(' ')}`;
    const tokens = (source: string) => {
      const lexer = new Lexer(new Source(source));
      let n = 0;
      while (lexer.advance().kind !== TokenKind.EOF) n += 1;
      return n;
    };
    const limit = tokens(doc(19));
    const tight = await startTestApp({ queryMaxTokens: limit });
    try {
      const post = async (query: string) => {
        const res = await fetch(`${tight.url}/graphql`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${u.accessToken}`,
          },
          body: JSON.stringify({ query, operationName: 'Chosen' }),
        });
        return { status: res.status, ...((await res.json()) as { data?: any; errors?: any[] }) };
      };
      const over = await post(`${doc(19)} query Extra { me { id } }`);
      expect(over.status).toBe(400);
      expect(over.data ?? null).toBeNull();
      expect(over.errors?.[0]?.message).toMatch(new RegExp(`${limit} tokens`));
      expect(CONTRACT_ERROR_CODES).toContain(over.errors?.[0]?.extensions?.code);
      const under = await post(doc(19));
      expect(under.errors).toBeUndefined();
      expect(under.data).toEqual({ me: { id: u.id } });
      // A 21st operation is refused whatever the tokens: validation costs grow with each one.
      expectErrorCode(await tight.gql(doc(20), {}, u.accessToken), 'QUERY_TOO_COMPLEX');
    } finally {
      await tight.close();
    }
  });

  it('a request body over the size limit answers a GraphQL error with a contract code', async () => {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${u.accessToken}` },
      body: JSON.stringify({ query: `{ me { id } } # ${'x'.repeat(300_000)}` }),
    });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
    expect(CONTRACT_ERROR_CODES).toContain(body.errors?.[0]?.extensions?.code);
  });
});

describe('malformed requests are the client’s errors, never internal ones', () => {
  const post = async (app: TestApp, body: unknown) => {
    const res = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${u.accessToken}` },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as GraphQLResponse;
    return { status: res.status, errors: json.errors ?? [] };
  };

  it.each([
    [
      'a persisted-query hash that does not match its query',
      {
        query: '{ plans { tier } }',
        extensions: { persistedQuery: { version: 1, sha256Hash: 'abc' } },
      },
    ],
    [
      'an unsupported persisted-query version',
      {
        query: '{ plans { tier } }',
        extensions: { persistedQuery: { version: 2, sha256Hash: 'abc' } },
      },
    ],
    ['a persisted-query extension that is not an object', { extensions: { persistedQuery: 'x' } }],
    ['no query at all', { variables: {} }],
  ])('%s is BAD_USER_INPUT with status 400', async (_what, body) => {
    const res = await post(t, body);
    expect(res.status).toBe(400);
    expect(res.errors.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  });

  it('JSON input nested 3,000 arrays deep is BAD_USER_INPUT (it overflowed the stack before)', async () => {
    let deep: unknown = [];
    for (let i = 0; i < 3000; i++) deep = [deep];
    const res = await call(
      t,
      `mutation($i: JSON!) { invokeTool(slug: "text-stats", input: $i) { output } }`,
      { i: deep },
    );
    const err = expectErrorCode(res, 'BAD_USER_INPUT');
    // Refused with the body, before it is parsed (src/http/json-body.ts).
    expect(err.message).toContain('nested deeper than 100 levels');
    // Deeper than the JSON scalar takes, within what a body may hold: the scalar refuses it.
    let deeper: unknown = [];
    for (let i = 0; i < 80; i++) deeper = [deeper];
    const scalar = await call(
      t,
      `mutation($i: JSON!) { invokeTool(slug: "text-stats", input: $i) { output } }`,
      { i: deeper },
    );
    expect(expectErrorCode(scalar, 'BAD_USER_INPUT').message).toContain(
      'nested deeper than 64 levels',
    );
  });

  it('a literal nested beyond what the parser can follow is QUERY_TOO_COMPLEX, without internals', async () => {
    const literal = `${'{a:'.repeat(1500)}1${'}'.repeat(1500)}`;
    const res = await call(
      t,
      `mutation { invokeTool(slug: "text-stats", input: ${literal}) { output } }`,
    );
    const codes = res.errors?.map((e) => e.extensions?.code);
    expect(codes?.length).toBe(1);
    expect(['QUERY_TOO_COMPLEX', 'BAD_USER_INPUT']).toContain(codes?.[0]);
    expect(JSON.stringify(res.errors)).not.toMatch(/call stack/i);
  });

  it('without introspection, errors suggest no field names and name no framework', async () => {
    const closed = await startTestApp({ introspection: false });
    try {
      const typo = await closed.gql(`{ plans { tierx } }`, {}, u.accessToken);
      expect(expectErrorCode(typo, 'BAD_USER_INPUT').message).not.toMatch(/did you mean/i);
      const intro = await closed.gql(`{ __schema { types { name } } }`, {}, u.accessToken);
      const err = expectErrorCode(intro, 'BAD_USER_INPUT');
      expect(err.message).toBe('Introspection is disabled on this server');
      // With introspection on (development), the suggestions help.
      const open = await t.gql(`{ plans { tierx } }`, {}, u.accessToken);
      expect(expectErrorCode(open, 'BAD_USER_INPUT').message).toMatch(/did you mean "tier"/i);
    } finally {
      await closed.close();
    }
  });
});
