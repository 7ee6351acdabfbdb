import { buildSchema, execute, parse, type ExecutionResult } from 'graphql';
import type { GatewayGraphQLRequestContext } from '@apollo/server-gateway-interface';
import { compiledExecution, MAX_COMPILED_SELECTIONS } from '../../src/schema/compiled-execution';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectNoErrors } from '../helpers/graphql';
import type { SeededUser } from '../helpers/seed';

/**
 * Compiled execution (graphql-jit) answers exactly what graphql-js's interpreter answers: the
 * same documents, sent to a server that interprets every one and to one that compiles every
 * one from its first run, give the same bodies and statuses, errors included. The rest of the
 * suite runs compiled from the first run (test/helpers/test-config.ts).
 */
describe('compiled execution', () => {
  let interpreted: TestApp;
  let compiled: TestApp;
  let user: SeededUser;
  // A clock that turns invalid on demand makes the next write fail inside the database driver
  // with an error that has no extensions of its own.
  let broken = false;
  const clock = { now: () => (broken ? new Date(Number.NaN) : new Date()) };

  beforeAll(async () => {
    interpreted = await startTestApp({ queryCompile: false }, { clock });
    compiled = await startTestApp({ queryCompile: true, queryCompileAfter: 0 }, { clock });
    user = await compiled.seed.user({ plan: 'PRO' });
    await compiled.seed.task(user, { title: 'alpha report', priority: 'HIGH' });
    await compiled.seed.task(user, { title: 'beta', description: 'the alpha notes' });
    await compiled.seed.task(user, { title: 'gamma', dueDate: '2030-01-02T03:04:05.678Z' });
  });

  afterAll(async () => {
    await interpreted?.close();
    await compiled?.close();
  });

  async function post(app: TestApp, body: unknown, token = user.accessToken) {
    const res = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    // The cost extension reports each server's own bucket: everything else must match.
    delete json.extensions;
    return { status: res.status, json };
  }

  async function compiledCount(app: TestApp): Promise<number> {
    const text = await (await fetch(`${app.url}/metrics`)).text();
    return Number(/^switchboard_graphql_operations_compiled_total (\d+)/m.exec(text)?.[1]);
  }

  const TASK_FIELDS = 'id title description status priority dueDate createdAt updatedAt';
  type Body = { query: string; variables?: unknown; operationName?: string };
  /** [what it is, the document, whether it is compiled (false: interpreted, see `compilable`)] */
  const documents: [string, Body, boolean][] = [
    [
      'fragments, inline fragments, aliases and __typename',
      {
        query: `query Page { first: tasks(first: 2, orderBy: { field: PRIORITY, direction: ASC }) {
            __typename nodes { ...T ... on Task { owner { __typename id email name } } }
            pageInfo { hasNextPage endCursor } }
          rest: tasks(first: 5) { nodes { t: title } } }
          fragment T on Task { ${TASK_FIELDS} }`,
      },
      true,
    ],
    [
      'variables inside an input object, an Int default and enums',
      {
        query: `query S($s: String, $p: TaskPriority!, $n: Int = 10) {
            tasks(first: $n, filter: { search: $s, priority: [$p, LOW] }) { nodes { title priority } } }`,
        variables: { s: 'alpha', p: 'HIGH' },
      },
      true,
    ],
    [
      'a variable that does not coerce',
      { query: 'query($n: Int!) { tasks(first: $n) { nodes { id } } }', variables: { n: 'x' } },
      true,
    ],
    [
      'a missing required variable',
      { query: 'query Missing($n: Int!) { tasks(first: $n) { nodes { id } } }', variables: {} },
      true,
    ],
    [
      'an argument refused by the resolver (coded error, data null)',
      { query: '{ tasks(first: -1) { nodes { id } } }' },
      true,
    ],
    [
      'a task that does not exist',
      {
        query: 'query($id: ID!) { task(id: $id) { id title } }',
        variables: { id: '00000000-0000-4000-8000-000000000000' },
      },
      true,
    ],
    [
      'a field the viewer may not read, beside one it may',
      { query: '{ me { id email role } users(first: 1) { nodes { id } } }' },
      true,
    ],
    [
      'one operation of several, by name',
      {
        query: 'query A { me { id } } query B { me { name email } plans { tier } }',
        operationName: 'B',
      },
      true,
    ],
    [
      'introspection',
      {
        query:
          'query($t: String!) { __schema { queryType { name } } __type(name: $t) { fields { name } } }',
        variables: { t: 'Task' },
      },
      true,
    ],
    [
      'a string literal (never compiled: graphql-jit writes literals into its code)',
      { query: '{ task(id: "00000000-0000-4000-8000-000000000000") { id } }' },
      false,
    ],
    [
      '@skip and @include on fields, spreads and inline fragments',
      {
        query: `query D($yes: Boolean!, $no: Boolean!) { tasks(first: 3) { nodes {
            id @include(if: $yes) title @skip(if: $yes) ...F @include(if: $no)
            ... on Task @skip(if: $no) { priority } ...G @skip(if: $no) } } }
          fragment F on Task { status } fragment G on Task { dueDate @include(if: $yes) }`,
        variables: { yes: true, no: false },
      },
      false,
    ],
    [
      'one fragment spread under different conditions',
      {
        query: `query Q($x: Boolean!) { a: me { ...F @include(if: $x) } b: me { ...F } }
          fragment F on User { email }`,
        variables: { x: false },
      },
      false,
    ],
    [
      'aliases whose paths joined by _ would meet',
      { query: '{ p_q: me { r: tasks(first: 1) { totalCount } } q: me { r_p: email } }' },
      false,
    ],
    ['a __proto__ alias', { query: '{ tasks(first: 1) { nodes { __proto__: title } } }' }, false],
    [
      'a required variable with a default, sent without it',
      {
        query: 'query Req($n: Int! = 2) { tasks(first: $n) { nodes { title } } }',
        variables: {},
      },
      false,
    ],
    [
      'a custom scalar default value',
      {
        query: `query($d: DateTime = "2030-01-01T00:00:00Z") {
            tasks(filter: { dueBefore: $d }) { nodes { title } } }`,
      },
      false,
    ],
    [
      `more than ${MAX_COMPILED_SELECTIONS} selections once fragments are expanded`,
      {
        query: `{ ${Array.from({ length: 25 }, (_, i) => `a${i}: tasks(first: 1) { nodes { ...T } }`).join(' ')} }
          fragment T on Task { ${TASK_FIELDS} owner { id email name role } }`,
      },
      false,
    ],
  ];

  it.each(documents)(
    '%s: the same answer compiled as interpreted',
    async (_name, body, compiles) => {
      const before = await compiledCount(compiled);
      const a = await post(interpreted, body);
      const b = await post(compiled, body);
      expect(b).toEqual(a);
      expect(await compiledCount(compiled)).toBe(before + (compiles ? 1 : 0));
      // A second run reuses what the first decided.
      expect(await post(compiled, body)).toEqual(a);
      expect(await compiledCount(compiled)).toBe(before + (compiles ? 1 : 0));
    },
  );

  it('a string literal never becomes code, however it is marked', async () => {
    const marker = '__MAGIC_DATE__33a9e76d_02e0_4128_8e92_3530ad3da74d';
    const g = globalThis as { compiledCanary?: number };
    delete g.compiledCanary;
    const body = { query: `{ tool(slug: "${marker}(0,globalThis.compiledCanary=1,0)") { id } }` };
    const a = await post(interpreted, body);
    for (let run = 0; run < 3; run += 1) expect(await post(compiled, body)).toEqual(a);
    expect(g.compiledCanary).toBeUndefined();
  });

  it('after a failed mutation the next ones do not run, compiled or not', async () => {
    const body = {
      query: `mutation($id: ID!, $in: CreateTaskInput!) {
          a: deleteTask(id: $id) b: createTask(input: $in) { id } }`,
      variables: { id: '00000000-0000-4000-8000-000000000000', in: { title: 'never made' } },
    };
    const count = async () =>
      (
        expectNoErrors(
          (await post(compiled, { query: '{ tasks { totalCount } }' })).json as never,
        ) as {
          tasks: { totalCount: number };
        }
      ).tasks.totalCount;
    const before = await count();
    const a = await post(interpreted, body);
    const b = await post(compiled, body);
    expect(b).toEqual(a);
    expect(a.json.data).toBeNull();
    expect(await count()).toBe(before);
  });

  it('a custom scalar literal holding a variable is interpreted, and its variable arrives', async () => {
    const before = await compiledCount(compiled);
    const body = {
      query:
        'mutation($t: String!) { invokeTool(slug: "text-stats", input: { text: $t }) { output } }',
      variables: { t: 'Two words.' },
    };
    const a = await post(interpreted, body);
    const b = await post(compiled, body);
    expect(b).toEqual(a);
    expect(expectNoErrors(b.json as never)).toMatchObject({ invokeTool: { output: {} } });
    expect(await compiledCount(compiled)).toBe(before);
  });

  it('an unexpected error keeps its path and code compiled, as interpreted', async () => {
    const body = {
      query: 'mutation { createApiKey(input: { name: "boom", scopes: [TASKS_READ] }) { secret } }',
    };
    broken = true;
    try {
      const a = await post(interpreted, body);
      const b = await post(compiled, body);
      expect(a.json.errors).toEqual([
        {
          message: 'Internal server error',
          path: ['createApiKey'],
          extensions: { code: 'INTERNAL_SERVER_ERROR' },
        },
      ]);
      expect(b).toEqual(a);
    } finally {
      broken = false;
    }
  });

  it('a document is compiled only after QUERY_COMPILE_AFTER runs on the interpreter', async () => {
    const app = await startTestApp({ queryCompile: true, queryCompileAfter: 2 });
    try {
      const body = { query: `{ me { id name } }` };
      const start = await compiledCount(app);
      for (let run = 1; run <= 2; run += 1) {
        expect((await post(app, body)).status).toBe(200);
        expect(await compiledCount(app)).toBe(start);
      }
      const third = await post(app, body);
      expect(await compiledCount(app)).toBe(start + 1);
      expect(third).toEqual(await post(interpreted, body));
      await post(app, body);
      expect(await compiledCount(app)).toBe(start + 1);
    } finally {
      await app.close();
    }
  });
});

describe('compiled execution: what compiling may cost', () => {
  const schema = buildSchema('type Query { a: Int b: String }');
  const context = (query: string) => {
    const document = parse(query);
    const operation = document.definitions[0] as never;
    return {
      document,
      operation,
      operationName: null,
      context: {},
      request: { query, variables: {} },
    } as unknown as GatewayGraphQLRequestContext;
  };

  async function executorOf(options: Parameters<typeof compiledExecution>[1], over = schema) {
    const { executor } = await compiledExecution(over, options).load({ apollo: {} });
    return executor!;
  }

  /** Runs `query` through the executor and asserts graphql-js's own answer. */
  async function expectInterpretersAnswer(
    run: Awaited<ReturnType<typeof executorOf>>,
    over: typeof schema,
    query: string,
  ) {
    const request = context(query);
    expect(JSON.stringify(await run(request))).toBe(
      JSON.stringify(await execute({ schema: over, document: request.document })),
    );
  }

  it('a custom scalar literal is interpreted: its keys would be written into the code', async () => {
    const jsonSchema = buildSchema('scalar JSON type Query { echo(j: JSON): JSON }');
    jsonSchema.getQueryType()!.getFields().echo!.resolve = (_, args: { j: unknown }) => args.j;
    let compiles = 0;
    const run = await executorOf({ compileAfter: 0, onCompile: () => (compiles += 1) }, jsonSchema);
    await expectInterpretersAnswer(
      run,
      jsonSchema,
      '{ echo(j: { __proto__: { role: 1 }, n: [1, 2] }) }',
    );
    expect(compiles).toBe(0);
  });

  it('snake_case field names and interfaces or unions are interpreted, with the same answers', async () => {
    const abstract = buildSchema(`
      type A { a_b: Int }  type B { b: Int }  union U = A | B
      type Query { snake_case: A, u: U, plain: B }`);
    const fields = abstract.getQueryType()!.getFields();
    fields.snake_case!.resolve = () => ({ a_b: 1 });
    fields.plain!.resolve = () => ({ b: 2 });
    fields.u!.resolve = () => ({ __typename: 'B', b: 3 });
    let compiles = 0;
    const run = await executorOf({ compileAfter: 0, onCompile: () => (compiles += 1) }, abstract);
    await expectInterpretersAnswer(run, abstract, '{ snake_case { a_b } }');
    await expectInterpretersAnswer(run, abstract, '{ u { ... on B { b } } }');
    expect(compiles).toBe(0);
    await expectInterpretersAnswer(run, abstract, '{ plain { b } }');
    expect(compiles).toBe(1);
  });

  it('an empty CPU budget leaves documents interpreted, with the same answers', async () => {
    let compiles = 0;
    const execute = await executorOf({
      compileAfter: 0,
      budget: { burstMs: 0, perSecondMs: 0 },
      onCompile: () => (compiles += 1),
    });
    const result: ExecutionResult = await execute(context('{ a b }'));
    expect(result).toEqual({ data: { a: null, b: null } });
    expect(compiles).toBe(0);
  });

  it('the budget is spent by compiling and refills with time', async () => {
    let compiles = 0;
    const execute = await executorOf({
      compileAfter: 0,
      // One compile's worth at most: the first overdraws it, and it refills at 2 ms of CPU a
      // second (a compile of a tenth of a millisecond takes 50 ms to repay; on a loaded
      // machine the next run comes long before that).
      budget: { burstMs: 0.001, perSecondMs: 2 },
      onCompile: () => (compiles += 1),
    });
    await execute(context('{ a }'));
    expect(compiles).toBe(1);
    await execute(context('{ b }'));
    expect(compiles).toBe(1);
    // Refilled with time: a run then compiles again.
    for (let waited = 0; compiles < 2 && waited < 10_000; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await execute(context('{ a b }'));
    }
    expect(compiles).toBe(2);
  });

  it('keeps at most maxCompiled operations, dropping the least recently used', async () => {
    let compiles = 0;
    const execute = await executorOf({
      compileAfter: 0,
      maxCompiled: 2,
      onCompile: () => (compiles += 1),
    });
    const one = context('{ a }');
    const two = context('{ b }');
    const three = context('{ a b }');
    await execute(one);
    await execute(two);
    await execute(one); // one is now the most recently used
    expect(compiles).toBe(2);
    await execute(three); // drops two
    expect(compiles).toBe(3);
    await execute(one);
    expect(compiles).toBe(3);
    await execute(two); // compiled again
    expect(compiles).toBe(4);
  });
});
