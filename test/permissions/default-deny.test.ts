import { Writable } from 'node:stream';
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  type GraphQLField,
  type GraphQLInputType,
  type IntrospectionQuery,
} from 'graphql';
import pino from 'pino';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, gql } from '../helpers/graphql';
import type { SeededUser } from '../helpers/seed';
import {
  PUBLIC_FIELDS,
  SCOPE_FIELDS,
  caller,
  seedScopedKeys,
  type Key,
} from './permission-fixtures';

let t: TestApp;
let owner: SeededUser;
let allScopes: Key;
beforeAll(async () => {
  t = await startTestApp();
  ({ owner, allScopes } = await seedScopedKeys(t));
});
afterAll(async () => {
  await t.close();
});
const call = caller(() => t);

describe('default deny over the whole schema', () => {
  /** A literal for an input type, filling only what is required. */
  function literal(type: GraphQLInputType): string {
    if (isNonNullType(type)) return literal(type.ofType);
    if (isListType(type)) return `[${literal(type.ofType)}]`;
    if (isEnumType(type)) return type.getValues()[0]!.name;
    if (isInputObjectType(type)) {
      const fields = Object.values(type.getFields()).filter(
        (f) => isNonNullType(f.type) && f.defaultValue === undefined,
      );
      return `{ ${fields.map((f) => `${f.name}: ${literal(f.type)}`).join(', ')} }`;
    }
    switch (type.name) {
      case 'ID':
        return '"00000000-0000-4000-8000-000000000000"';
      case 'Int':
      case 'Float':
        return '1';
      case 'Boolean':
        return 'true';
      case 'DateTime':
        return '"2099-01-01T00:00:00Z"';
      case 'JSON':
        return '{ type: "object" }';
      default:
        return '"x"';
    }
  }

  function operationFor(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>) {
    const args = field.args
      .filter((a) => isNonNullType(a.type) && a.defaultValue === undefined)
      .map((a) => `${a.name}: ${literal(a.type)}`);
    const selection = isObjectType(getNamedType(getNullableType(field.type)))
      ? ' { __typename }'
      : '';
    return `${kind} { ${field.name}${args.length ? `(${args.join(', ')})` : ''}${selection} }`;
  }

  let roots: { kind: 'query' | 'mutation'; field: GraphQLField<unknown, unknown> }[];
  beforeAll(async () => {
    const res = expectNoErrors(await call<IntrospectionQuery>(getIntrospectionQuery()));
    const schema = buildClientSchema(res);
    roots = [
      ...Object.values(schema.getQueryType()!.getFields()).map((field) => ({
        kind: 'query' as const,
        field,
      })),
      ...Object.values(schema.getMutationType()!.getFields()).map((field) => ({
        kind: 'mutation' as const,
        field,
      })),
    ];
    if (roots.length < 30) throw new Error(`only ${roots.length} root fields introspected`);
  });

  it('refuses every root field but register, login, refreshToken and plans to anonymous callers', async () => {
    const notRefused: string[] = [];
    for (const { kind, field } of roots) {
      if (PUBLIC_FIELDS.includes(field.name)) continue;
      const res = await call(operationFor(kind, field));
      if (!res.errors?.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) {
        notRefused.push(`${field.name}: ${JSON.stringify(res.errors ?? res.data)}`);
      }
    }
    expect(notRefused).toEqual([]);
    expect(expectNoErrors(await call(`{ plans { tier } }`)).plans).toHaveLength(3);
  });

  it('refuses every ADMIN field to a user, and everything outside its scopes to a key with all of them', async () => {
    const scoped = Object.values(SCOPE_FIELDS).flat();
    const notRefused: string[] = [];
    let adminFields = 0;
    for (const { kind, field } of roots) {
      const doc = operationFor(kind, field);
      if (field.description?.startsWith('ADMIN')) {
        adminFields += 1;
        const res = await call(doc, {}, owner.accessToken);
        if (!res.errors?.some((e) => e.extensions?.code === 'FORBIDDEN')) {
          notRefused.push(`${field.name} to a user: ${JSON.stringify(res.errors ?? res.data)}`);
        }
      }
      if (!PUBLIC_FIELDS.includes(field.name) && !scoped.includes(field.name)) {
        const res = await call(doc, {}, allScopes.secret);
        if (!res.errors?.some((e) => e.extensions?.code === 'FORBIDDEN')) {
          notRefused.push(`${field.name} to a key: ${JSON.stringify(res.errors ?? res.data)}`);
        }
      }
    }
    expect(notRefused).toEqual([]);
    // users, user, allTasks, allUsageRecords, adminStats, auditLog and the six admin mutations.
    expect(adminFields).toBeGreaterThanOrEqual(12);
  });
});

describe('errors', () => {
  it('GraphQL validation and syntax errors carry BAD_USER_INPUT', async () => {
    const unknownField = await call(`{ me { id nope } }`, {}, owner.accessToken);
    expect(unknownField.status).toBe(400);
    expect(expectErrorCode(unknownField, 'BAD_USER_INPUT').message).toContain('nope');
    expectErrorCode(await call(`{ me { id `, {}, owner.accessToken), 'BAD_USER_INPUT');
    expectErrorCode(await call(`{ nope }`, {}, owner.accessToken), 'BAD_USER_INPUT');
    expectErrorCode(
      await call(`{ tasks(first: "ten") { totalCount } }`, {}, owner.accessToken),
      'BAD_USER_INPUT',
    );
    expectErrorCode(await call(`{ me }`, {}, owner.accessToken), 'BAD_USER_INPUT');
    expectErrorCode(await call(``, {}, owner.accessToken), 'BAD_USER_INPUT');
  });

  it('variables of the wrong type, missing or with unknown enum values carry BAD_USER_INPUT, never an internal error', async () => {
    const TASKS = `query($n: Int) { tasks(first: $n) { totalCount } }`;
    const wrongType = await call(TASKS, { n: 'ten' }, owner.accessToken);
    expect(wrongType.status).toBe(400);
    expect(expectErrorCode(wrongType, 'BAD_USER_INPUT').extensions?.fields).toEqual(['n']);
    const CREATE = `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }`;
    expectErrorCode(await call(CREATE, {}, owner.accessToken), 'BAD_USER_INPUT');
    expectErrorCode(
      await call(CREATE, { i: { name: 'k', scopes: ['EVERYTHING'] } }, owner.accessToken),
      'BAD_USER_INPUT',
    );
    expectErrorCode(await call(CREATE, { i: { name: 'k' } }, owner.accessToken), 'BAD_USER_INPUT');
  });

  it.each([['production'], ['development']] as const)(
    'an unexpected error leaves as INTERNAL_SERVER_ERROR with no SQL, stack or internal message in %s, and is logged with the request id',
    async (nodeEnv) => {
      // A clock that turns invalid on demand makes the next write fail inside the database driver.
      let broken = false;
      const lines: string[] = [];
      const logger = pino(
        { level: 'error' },
        new Writable({
          write(chunk, _enc, done) {
            lines.push(String(chunk));
            done();
          },
        }),
      );
      const prod = await startTestApp(
        { nodeEnv, isProduction: nodeEnv === 'production' },
        { clock: { now: () => (broken ? new Date(Number.NaN) : new Date()) }, logger },
      );
      try {
        const u = await prod.seed.user();
        broken = true;
        const res = await gql(
          prod.url,
          `mutation { createApiKey(input: { name: "boom", scopes: [TASKS_READ] }) { secret } }`,
          {},
          u.accessToken,
          { 'x-request-id': `masking-test-${nodeEnv}` },
        );
        broken = false;
        expect(res.errors).toEqual([
          {
            message: 'Internal server error',
            path: ['createApiKey'],
            extensions: { code: 'INTERNAL_SERVER_ERROR' },
          },
        ]);
        expect(res.data).toBeNull();
        const body = JSON.stringify(res);
        for (const leak of [/insert/i, /api_keys/i, /\bat \w/, /\.ts:\d+/, /NaN/, /timestamp/i]) {
          expect(body).not.toMatch(leak);
        }
        // The full error is in the log, under the request id the client sent.
        const logged = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'unexpected error');
        expect(logged).toMatchObject({ requestId: `masking-test-${nodeEnv}` });
        expect(JSON.stringify(logged.err)).toMatch(/api_keys|invalid|NaN/i);
        // Nothing was written.
        expect(
          expectNoErrors(await prod.gql(`{ apiKeys { id } }`, {}, u.accessToken)).apiKeys,
        ).toEqual([]);
      } finally {
        await prod.close();
      }
    },
  );
});
