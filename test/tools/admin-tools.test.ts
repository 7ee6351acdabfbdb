import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors } from '../helpers/graphql';
import { unique, type SeededUser } from '../helpers/seed';
import {
  createTool,
  INVOKE,
  OPEN_SCHEMA,
  sendJson,
  startUpstream,
  type FakeUpstream,
} from './fake-upstream';

const CREATE = `mutation($input: CreateToolInput!) {
  createTool(input: $input) { id slug name description category requiredTier inputSchema maxOutputTokens endpointUrl isActive }
}`;
const UPDATE = `mutation($id: ID!, $input: UpdateToolInput!) {
  updateTool(id: $id, input: $input) { id slug name requiredTier inputSchema maxOutputTokens endpointUrl isActive }
}`;

let t: TestApp;
let admin: SeededUser;
let user: SeededUser;
let up: FakeUpstream;

beforeAll(async () => {
  t = await startTestApp();
  [admin, user] = await Promise.all([t.seed.admin(), t.seed.user()]);
  up = await startUpstream((req, res) =>
    sendJson(res, 200, {
      output: { got: req.body.input },
      usage: { inputTokens: 1, outputTokens: 1 },
    }),
  );
});
afterAll(async () => {
  await up.close();
  await t.close();
});

function toolInput(overrides: Record<string, unknown> = {}) {
  return {
    slug: unique('adm').toLowerCase(),
    name: '  Echo  ',
    description: 'Echoes its input',
    category: 'test',
    requiredTier: 'FREE',
    inputSchema: {
      type: 'object',
      properties: { q: { type: 'string' } },
      required: ['q'],
      additionalProperties: false,
    },
    maxOutputTokens: 300,
    endpointUrl: up.url,
    ...overrides,
  };
}

async function auditFor(targetId: string) {
  const data = expectNoErrors(
    await t.gql(
      `{ auditLog(first: 100) { nodes { action targetType targetId details actor { id } createdAt } } }`,
      {},
      admin.accessToken,
    ),
  );
  return data.auditLog.nodes.filter((n: any) => n.targetId === targetId);
}

describe('createTool', () => {
  it('lets an admin register an upstream tool, audited as tool.create with before/after', async () => {
    const input = toolInput();
    const created = expectNoErrors(await t.gql(CREATE, { input }, admin.accessToken)).createTool;
    expect(created).toMatchObject({
      slug: input.slug,
      name: 'Echo',
      description: 'Echoes its input',
      category: 'test',
      requiredTier: 'FREE',
      inputSchema: input.inputSchema,
      maxOutputTokens: 300,
      endpointUrl: up.url,
      isActive: true,
    });
    const entries = await auditFor(created.id);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      action: 'tool.create',
      targetType: 'Tool',
      actor: { id: admin.id },
      details: {
        before: null,
        after: { slug: input.slug, name: 'Echo', endpointUrl: up.url, isActive: true },
      },
    });
    // Any signed-in user can see and call it.
    const seen = expectNoErrors(
      await t.gql(
        `query($s: String!) { tool(slug: $s) { slug maxOutputTokens } tools(filter: { search: $s }) { totalCount nodes { slug } } }`,
        { s: input.slug },
        user.accessToken,
      ),
    );
    expect(seen.tool).toEqual({ slug: input.slug, maxOutputTokens: 300 });
    expect(seen.tools.nodes).toEqual([{ slug: input.slug }]);
    const call = expectNoErrors(
      await t.gql(INVOKE, { slug: input.slug, input: { q: 'hi' } }, user.accessToken),
    ).invokeTool;
    expect(call.output).toEqual({ got: { q: 'hi' } });
  });

  it('registers a built-in slug without endpointUrl only if it is a built-in (existing: CONFLICT)', async () => {
    expectErrorCode(
      await t.gql(
        CREATE,
        { input: toolInput({ slug: 'text-stats', endpointUrl: undefined }) },
        admin.accessToken,
      ),
      'CONFLICT',
    );
  });

  it('is admin only: FORBIDDEN for a user and for an admin’s API key; UNAUTHENTICATED anonymously', async () => {
    const input = toolInput();
    expectErrorCode(await t.gql(CREATE, { input }, user.accessToken), 'FORBIDDEN');
    const key = await t.seed.apiKey(admin, ['TOOLS_INVOKE', 'USAGE_READ']);
    expectErrorCode(await t.gql(CREATE, { input }, key.secret), 'FORBIDDEN');
    expectErrorCode(await t.gql(CREATE, { input }), 'UNAUTHENTICATED');
    const seen = expectNoErrors(
      await t.gql(
        `query($s: String!) { tool(slug: $s) { id } }`,
        { s: input.slug },
        admin.accessToken,
      ),
    );
    expect(seen.tool).toBeNull();
  });

  it.each([
    ['an upper-case slug', { slug: 'Bad-Slug' }, 'slug'],
    ['a slug with spaces', { slug: 'bad slug' }, 'slug'],
    ['a slug starting with a dash', { slug: '-bad' }, 'slug'],
    ['a slug over 64 characters', { slug: 'a'.repeat(65) }, 'slug'],
    ['an empty name', { name: '' }, 'name'],
    ['maxOutputTokens 0', { maxOutputTokens: 0 }, 'maxOutputTokens'],
    ['maxOutputTokens over 100,000', { maxOutputTokens: 100_001 }, 'maxOutputTokens'],
    [
      'an inputSchema that is not a schema',
      { inputSchema: { type: 'no-such-type' } },
      'inputSchema',
    ],
    ['an inputSchema that is an array', { inputSchema: [1, 2] }, 'inputSchema'],
    [
      'an asynchronous inputSchema ($async), whose validator answers with a promise',
      { inputSchema: { $async: true, type: 'object' } },
      'inputSchema',
    ],
    [
      'an inputSchema with an unpaired surrogate',
      { inputSchema: { type: 'object', description: 'bad \ud800 text' } },
      'inputSchema.description',
    ],
    ['a name with an unpaired surrogate', { name: 'tool \udc00' }, 'name'],
    [
      'a pattern RE2 cannot run in linear time (lookahead)',
      { inputSchema: { type: 'string', pattern: '^(?=a)a+$' } },
      'inputSchema',
    ],
    ['an inputSchema that is a string', { inputSchema: 'object' }, 'inputSchema'],
    ['an ftp endpointUrl', { endpointUrl: 'ftp://127.0.0.1/tool' }, 'endpointUrl'],
    ['a file endpointUrl', { endpointUrl: 'file:///etc/passwd' }, 'endpointUrl'],
    ['a relative endpointUrl', { endpointUrl: '/run' }, 'endpointUrl'],
    ['an endpointUrl with credentials', { endpointUrl: 'http://u:p@127.0.0.1/x' }, 'endpointUrl'],
    ['no endpointUrl for a slug that is not built in', { endpointUrl: undefined }, 'endpointUrl'],
    ['a null endpointUrl for a slug that is not built in', { endpointUrl: null }, 'endpointUrl'],
  ])('refuses %s with BAD_USER_INPUT and creates nothing', async (_what, overrides, field) => {
    const input = toolInput(overrides);
    const err = expectErrorCode(
      await t.gql(CREATE, { input }, admin.accessToken),
      'BAD_USER_INPUT',
    );
    expect(err.extensions?.fields).toContain(field);
    if (typeof input.slug === 'string' && /^[a-z0-9-]{1,64}$/.test(input.slug)) {
      const seen = expectNoErrors(
        await t.gql(
          `query($s: String!) { tool(slug: $s) { id } }`,
          { s: input.slug },
          admin.accessToken,
        ),
      );
      expect(seen.tool).toBeNull();
    }
  });

  it('refuses a duplicate slug with CONFLICT', async () => {
    const input = toolInput();
    expectNoErrors(await t.gql(CREATE, { input }, admin.accessToken));
    expectErrorCode(
      await t.gql(CREATE, { input: { ...input, name: 'Another' } }, admin.accessToken),
      'CONFLICT',
    );
    const seen = expectNoErrors(
      await t.gql(
        `query($s: String!) { tool(slug: $s) { name } }`,
        { s: input.slug },
        user.accessToken,
      ),
    );
    expect(seen.tool).toEqual({ name: 'Echo' });
  });
});

describe('updateTool', () => {
  it('changes a tool, audited as tool.update with before and after; the new schema applies at once', async () => {
    const tool = await createTool(t, admin.accessToken, { endpointUrl: up.url });
    // The open schema accepts anything.
    expectNoErrors(await t.gql(INVOKE, { slug: tool.slug, input: { any: 1 } }, user.accessToken));
    const schema = {
      type: 'object',
      properties: { q: { type: 'string', minLength: 2 } },
      required: ['q'],
    };
    const updated = expectNoErrors(
      await t.gql(
        UPDATE,
        { id: tool.id, input: { name: 'Renamed', inputSchema: schema, requiredTier: 'PRO' } },
        admin.accessToken,
      ),
    ).updateTool;
    expect(updated).toMatchObject({
      id: tool.id,
      slug: tool.slug,
      name: 'Renamed',
      requiredTier: 'PRO',
      inputSchema: schema,
      maxOutputTokens: 500,
      endpointUrl: up.url,
      isActive: true,
    });
    const entries = await auditFor(tool.id);
    expect(entries.map((e: any) => e.action)).toEqual(['tool.update', 'tool.create']);
    expect(entries[0].details.before).toMatchObject({
      name: 'Test tool',
      requiredTier: 'FREE',
      inputSchema: OPEN_SCHEMA,
    });
    expect(entries[0].details.after).toMatchObject({
      name: 'Renamed',
      requiredTier: 'PRO',
      inputSchema: schema,
    });
    expect(entries[0].actor).toEqual({ id: admin.id });

    // A FREE user is now refused by tier; a PRO user by the new schema.
    const free = expectErrorCode(
      await t.gql(INVOKE, { slug: tool.slug, input: { q: 'hello' } }, user.accessToken),
      'FORBIDDEN',
    );
    expect(free.extensions?.requiredTier).toBe('PRO');
    const pro = await t.seed.user({ plan: 'PRO' });
    const bad = expectErrorCode(
      await t.gql(INVOKE, { slug: tool.slug, input: { any: 1 } }, pro.accessToken),
      'BAD_USER_INPUT',
    );
    expect(bad.extensions?.fields).toContain('input.q');
    expectNoErrors(
      await t.gql(INVOKE, { slug: tool.slug, input: { q: 'hello' } }, pro.accessToken),
    );
  });

  it('is admin only and refuses bad changes and malformed ids with BAD_USER_INPUT, unknown ids with NOT_FOUND', async () => {
    const tool = await createTool(t, admin.accessToken, { endpointUrl: up.url });
    expectErrorCode(
      await t.gql(UPDATE, { id: tool.id, input: { name: 'Mine now' } }, user.accessToken),
      'FORBIDDEN',
    );
    for (const [input, field] of [
      [{ inputSchema: { type: 12 } }, 'inputSchema'],
      [{ endpointUrl: 'gopher://127.0.0.1/x' }, 'endpointUrl'],
      [{ endpointUrl: null }, 'endpointUrl'], // not a built-in slug
      [{ maxOutputTokens: 0 }, 'maxOutputTokens'],
      [{ name: '' }, 'name'],
      [{ name: null }, 'name'],
      [{ isActive: null }, 'isActive'],
    ] as const) {
      const err = expectErrorCode(
        await t.gql(UPDATE, { id: tool.id, input }, admin.accessToken),
        'BAD_USER_INPUT',
      );
      expect(err.extensions?.fields).toContain(field);
    }
    expectErrorCode(
      await t.gql(
        UPDATE,
        { id: '00000000-0000-4000-8000-000000000000', input: { name: 'X' } },
        admin.accessToken,
      ),
      'NOT_FOUND',
    );
    expectErrorCode(
      await t.gql(UPDATE, { id: 'not-a-uuid', input: { name: 'X' } }, admin.accessToken),
      'BAD_USER_INPUT',
    );
    const unchanged = expectNoErrors(
      await t.gql(
        `query($s: String!) { tool(slug: $s) { name endpointUrl maxOutputTokens } }`,
        { s: tool.slug },
        admin.accessToken,
      ),
    );
    expect(unchanged.tool).toEqual({
      name: 'Test tool',
      endpointUrl: up.url,
      maxOutputTokens: 500,
    });
    expect((await auditFor(tool.id)).map((e: any) => e.action)).toEqual(['tool.create']);
  });

  it('hides a deactivated tool from tools and tool(slug), answers NOT_FOUND to invokeTool, and brings it back', async () => {
    const tool = await createTool(t, admin.accessToken, { endpointUrl: up.url });
    const LOOKUP = `query($s: String!) { tool(slug: $s) { slug isActive } tools(first: 100, filter: { search: $s }) { totalCount nodes { slug } } }`;
    const off = expectNoErrors(
      await t.gql(UPDATE, { id: tool.id, input: { isActive: false } }, admin.accessToken),
    ).updateTool;
    expect(off.isActive).toBe(false);
    for (const who of [user, admin]) {
      const seen = expectNoErrors(await t.gql(LOOKUP, { s: tool.slug }, who.accessToken));
      expect(seen.tool).toBeNull();
      expect(seen.tools).toEqual({ totalCount: 0, nodes: [] });
    }
    const requestsBefore = up.requests.length;
    expectErrorCode(
      await t.gql(INVOKE, { slug: tool.slug, input: { q: 'x' } }, user.accessToken),
      'NOT_FOUND',
    );
    expect(up.requests.length).toBe(requestsBefore);
    // The slug stays taken.
    expectErrorCode(
      await t.gql(CREATE, { input: toolInput({ slug: tool.slug }) }, admin.accessToken),
      'CONFLICT',
    );

    expectNoErrors(
      await t.gql(UPDATE, { id: tool.id, input: { isActive: true } }, admin.accessToken),
    );
    const back = expectNoErrors(await t.gql(LOOKUP, { s: tool.slug }, user.accessToken));
    expect(back.tool).toEqual({ slug: tool.slug, isActive: true });
    expect(back.tools.nodes).toEqual([{ slug: tool.slug }]);
    expectNoErrors(await t.gql(INVOKE, { slug: tool.slug, input: { q: 'x' } }, user.accessToken));
  });
});

describe('Tool.endpointUrl', () => {
  it('is readable by an admin and null, without an error, for a user; built-ins have none', async () => {
    const tool = await createTool(t, admin.accessToken, { endpointUrl: up.url });
    const Q = `query($s: String!) { tool(slug: $s) { slug endpointUrl } }`;
    expect(expectNoErrors(await t.gql(Q, { s: tool.slug }, admin.accessToken)).tool).toEqual({
      slug: tool.slug,
      endpointUrl: up.url,
    });
    expect(expectNoErrors(await t.gql(Q, { s: 'text-stats' }, admin.accessToken)).tool).toEqual({
      slug: 'text-stats',
      endpointUrl: null,
    });
    const res = await t.gql(Q, { s: tool.slug }, user.accessToken);
    expect(expectNoErrors(res).tool).toEqual({ slug: tool.slug, endpointUrl: null });
    expect(JSON.stringify(res)).not.toContain(up.url);
    // A list asking for it is not lost to an error (a client's default error policy drops it).
    const list = await t.gql(
      `query($s: String!) { tools(filter: { search: $s }) { nodes { endpointUrl } } }`,
      { s: tool.slug },
      user.accessToken,
    );
    expect(expectNoErrors(list).tools.nodes).toEqual([{ endpointUrl: null }]);
    expect(JSON.stringify(list)).not.toContain(up.url);
    // Without the field, the user reads the tool fine.
    expect(
      expectNoErrors(
        await t.gql(
          `query($s: String!) { tool(slug: $s) { slug } }`,
          { s: tool.slug },
          user.accessToken,
        ),
      ).tool,
    ).toEqual({ slug: tool.slug });
  });
});

describe('host allow-list', () => {
  let restricted: TestApp;
  beforeAll(async () => {
    restricted = await startTestApp({ toolHostAllowlist: ['allowed.example'] });
  });
  afterAll(() => restricted.close());

  it('refuses endpoints on other hosts with BAD_USER_INPUT, on create and on update', async () => {
    const restrictedAdmin = await restricted.seed.admin();
    const err = expectErrorCode(
      await restricted.gql(CREATE, { input: toolInput() }, restrictedAdmin.accessToken),
      'BAD_USER_INPUT',
    );
    expect(err.extensions?.fields).toContain('endpointUrl');
    const ok = expectNoErrors(
      await restricted.gql(
        CREATE,
        { input: toolInput({ endpointUrl: 'https://allowed.example/v1/run' }) },
        restrictedAdmin.accessToken,
      ),
    ).createTool;
    expect(ok.endpointUrl).toBe('https://allowed.example/v1/run');
    const moved = expectErrorCode(
      await restricted.gql(
        UPDATE,
        { id: ok.id, input: { endpointUrl: up.url } },
        restrictedAdmin.accessToken,
      ),
      'BAD_USER_INPUT',
    );
    expect(moved.extensions?.fields).toContain('endpointUrl');
  });

  it('refuses at call time a tool registered on a host that is not allowed, without calling it', async () => {
    // Registered through the unrestricted app, called through the restricted one.
    const tool = await createTool(t, admin.accessToken, { endpointUrl: up.url });
    const u = await restricted.seed.user();
    const before = up.requests.length;
    expectErrorCode(
      await restricted.gql(INVOKE, { slug: tool.slug, input: { q: 'x' } }, u.accessToken),
      'UPSTREAM_ERROR',
    );
    expect(up.requests.length).toBe(before);
    const sub = expectNoErrors(
      await restricted.gql(`{ mySubscription { tokensUsed } }`, {}, u.accessToken),
    );
    expect(sub.mySubscription.tokensUsed).toBe(0);
  });
});
