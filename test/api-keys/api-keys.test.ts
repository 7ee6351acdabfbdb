import { randomUUID } from 'node:crypto';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors } from '../helpers/graphql';
import type { SeededUser } from '../helpers/seed';

const KEY_FORMAT = /^sk_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
const KEY_FIELDS = `id name prefix scopes createdAt lastUsedAt expiresAt revokedAt`;
const CREATE = `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret apiKey { ${KEY_FIELDS} } } }`;
const LIST = `{ apiKeys { ${KEY_FIELDS} } }`;
const REVOKE = `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;
const ME = `{ me { id email } }`;

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const call = (query: string, variables?: Record<string, unknown>, token?: string) =>
  t.gql(query, variables, token);

async function createKey(user: SeededUser, input: Record<string, unknown>) {
  return expectNoErrors(await call(CREATE, { i: input }, user.accessToken)).createApiKey as {
    secret: string;
    apiKey: Record<string, any>;
  };
}

describe('createApiKey and apiKeys', () => {
  it('creates sk_<12 alnum>_<43 base64url> keys whose prefix is listed and whose secret is shown once', async () => {
    const u = await t.seed.user();
    const before = Date.now();
    const created = await createKey(u, {
      name: '  Partner sync  ',
      scopes: ['USAGE_READ', 'TASKS_READ', 'USAGE_READ'],
    });
    const match = KEY_FORMAT.exec(created.secret);
    expect(match).not.toBeNull();
    expect(created.apiKey.prefix).toBe(match![1]);
    expect(created.apiKey.name).toBe('Partner sync');
    // Deduplicated and in a stable order.
    expect(created.apiKey.scopes).toEqual(['TASKS_READ', 'USAGE_READ']);
    expect(created.apiKey.lastUsedAt).toBeNull();
    expect(created.apiKey.expiresAt).toBeNull();
    expect(created.apiKey.revokedAt).toBeNull();
    const createdAt = new Date(created.apiKey.createdAt).getTime();
    expect(createdAt).toBeGreaterThanOrEqual(before - 5_000);
    expect(createdAt).toBeLessThanOrEqual(Date.now() + 5_000);

    const second = await createKey(u, { name: 'second', scopes: ['TOOLS_INVOKE'] });
    expect(second.secret).not.toBe(created.secret);
    expect(second.apiKey.prefix).not.toBe(created.apiKey.prefix);

    const listed = expectNoErrors(await call(LIST, {}, u.accessToken));
    // Newest first, every field as created, and no secret anywhere in the list.
    expect(listed.apiKeys).toEqual([second.apiKey, created.apiKey]);
    const body = JSON.stringify(listed);
    expect(body).not.toContain(match![2]);
    expect(body).not.toContain(created.secret);
    // The type has no secret field at all.
    expectErrorCode(await call(`{ apiKeys { id secret } }`, {}, u.accessToken), 'BAD_USER_INPUT');

    // The key acts as its owner.
    expect(expectNoErrors(await call(ME, {}, created.secret)).me).toEqual({
      id: u.id,
      email: u.email,
    });
  });

  it('lists only the caller’s own keys', async () => {
    const a = await t.seed.user();
    const b = await t.seed.user();
    const keyA = await t.seed.apiKey(a, ['TASKS_READ']);
    expect(expectNoErrors(await call(LIST, {}, b.accessToken)).apiKeys).toEqual([]);
    expect(
      expectNoErrors(await call(LIST, {}, a.accessToken)).apiKeys.map((k: any) => k.id),
    ).toEqual([keyA.id]);
  });

  it.each([
    [{ name: 'k', scopes: [] }, 'scopes'],
    [{ name: '   ', scopes: ['TASKS_READ'] }, 'name'],
    [{ name: '', scopes: ['TASKS_READ'] }, 'name'],
    [{ name: 'n'.repeat(101), scopes: ['TASKS_READ'] }, 'name'],
    [{ name: 'a\u0000b', scopes: ['TASKS_READ'] }, 'name'],
    [
      { name: 'k', scopes: ['TASKS_READ'], expiresAt: new Date(Date.now() - 1_000).toISOString() },
      'expiresAt',
    ],
  ])('refuses %j with BAD_USER_INPUT on %s and creates nothing', async (input, field) => {
    const u = await t.seed.user();
    const err = expectErrorCode(await call(CREATE, { i: input }, u.accessToken), 'BAD_USER_INPUT');
    expect(err.extensions?.fields).toContain(field);
    expect(expectNoErrors(await call(LIST, {}, u.accessToken)).apiKeys).toEqual([]);
  });

  it('refuses an unknown scope at the GraphQL level with BAD_USER_INPUT', async () => {
    const u = await t.seed.user();
    expectErrorCode(
      await call(CREATE, { i: { name: 'k', scopes: ['ADMIN'] } }, u.accessToken),
      'BAD_USER_INPUT',
    );
  });

  it('refuses key management to anonymous callers with UNAUTHENTICATED', async () => {
    expectErrorCode(await call(LIST), 'UNAUTHENTICATED');
    expectErrorCode(
      await call(CREATE, { i: { name: 'k', scopes: ['TASKS_READ'] } }),
      'UNAUTHENTICATED',
    );
    expectErrorCode(await call(REVOKE, { id: randomUUID() }), 'UNAUTHENTICATED');
  });

  it('allows 50 active keys, refuses the 51st with CONFLICT, and allows it again after a revoke', async () => {
    const u = await t.seed.user();
    const ids: string[] = [];
    for (let i = 0; i < 50; i += 1) ids.push((await t.seed.apiKey(u, ['TASKS_READ'])).id);
    expectErrorCode(
      await call(CREATE, { i: { name: 'one too many', scopes: ['TASKS_READ'] } }, u.accessToken),
      'CONFLICT',
    );
    expect(expectNoErrors(await call(LIST, {}, u.accessToken)).apiKeys).toHaveLength(50);
    expectNoErrors(await call(REVOKE, { id: ids[0] }, u.accessToken));
    await createKey(u, { name: 'replacement', scopes: ['TASKS_READ'] });
  });

  it('holds the cap of 50 under concurrent creations: of 10 at once with 46 active, exactly 4 succeed', async () => {
    const u = await t.seed.user();
    for (let i = 0; i < 46; i += 1) await t.seed.apiKey(u, ['TASKS_READ']);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        call(CREATE, { i: { name: `race ${i}`, scopes: ['TASKS_READ'] } }, u.accessToken),
      ),
    );
    const codes = results.map((r) => r.errors?.[0]?.extensions?.code ?? 'OK');
    expect(codes.filter((c) => c === 'OK')).toHaveLength(4);
    expect(codes.filter((c) => c === 'CONFLICT')).toHaveLength(6);
    expect(expectNoErrors(await call(LIST, {}, u.accessToken)).apiKeys).toHaveLength(50);
  });
});

describe('using a key', () => {
  it('refuses a tampered secret, an unknown prefix and malformed keys with UNAUTHENTICATED', async () => {
    const u = await t.seed.user();
    const key = await t.seed.apiKey(u, ['TASKS_READ']);
    const [, prefix, secret] = KEY_FORMAT.exec(key.secret)!;
    const flip = (c: string) => (c === 'A' ? 'B' : 'A');
    const tampered = [
      `sk_${prefix}_${secret!.slice(0, -1)}${flip(secret!.slice(-1))}`,
      `sk_${prefix}_${flip(secret![0]!)}${secret!.slice(1)}`,
      `sk_${prefix}_${'A'.repeat(43)}`,
      `sk_${'Z'.repeat(12)}_${secret}`,
      `sk_${prefix}_${secret}x`,
      `sk_${prefix}_${secret!.slice(0, -1)}`,
      `sk_${prefix}`,
      'sk_',
    ];
    for (const credential of tampered) {
      const err = expectErrorCode(await call(ME, {}, credential), 'UNAUTHENTICATED');
      expect(err.message).not.toContain(prefix);
    }
    // The real key still works: the refusals were about the credential.
    expect(expectNoErrors(await call(ME, {}, key.secret)).me.id).toBe(u.id);
  });

  it('sets lastUsedAt on first use and does not rewrite it within a minute', async () => {
    const u = await t.seed.user();
    const key = await t.seed.apiKey(u, ['TASKS_READ']);
    const lastUsed = async () =>
      expectNoErrors(await call(LIST, {}, u.accessToken)).apiKeys.find((k: any) => k.id === key.id)
        .lastUsedAt as string | null;
    expect(await lastUsed()).toBeNull();
    const before = Date.now();
    expectNoErrors(await call(ME, {}, key.secret));
    const first = await lastUsed();
    expect(first).not.toBeNull();
    expect(new Date(first!).getTime()).toBeGreaterThanOrEqual(before - 5_000);
    expect(new Date(first!).getTime()).toBeLessThanOrEqual(Date.now() + 5_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expectNoErrors(await call(ME, {}, key.secret));
    expectNoErrors(await call(`{ tasks { totalCount } }`, {}, key.secret));
    expect(await lastUsed()).toBe(first);
  });

  it('works until expiresAt, then answers UNAUTHENTICATED', async () => {
    const u = await t.seed.user();
    const expiresAt = new Date(Date.now() + 2_000).toISOString();
    const created = await createKey(u, { name: 'short-lived', scopes: ['TASKS_READ'], expiresAt });
    expect(new Date(created.apiKey.expiresAt).toISOString()).toBe(expiresAt);
    expect(expectNoErrors(await call(ME, {}, created.secret)).me.id).toBe(u.id);
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, new Date(expiresAt).getTime() - Date.now()) + 200),
    );
    expectErrorCode(await call(ME, {}, created.secret), 'UNAUTHENTICATED');
    // The owner's session is unaffected.
    expectNoErrors(await call(ME, {}, u.accessToken));
  });

  it('stops a revoked key at once; revoking again keeps the first revokedAt', async () => {
    const u = await t.seed.user();
    const key = await t.seed.apiKey(u, ['TASKS_READ']);
    const other = await t.seed.apiKey(u, ['TASKS_READ']);
    expectNoErrors(await call(ME, {}, key.secret));
    const revoked = expectNoErrors(await call(REVOKE, { id: key.id }, u.accessToken)).revokeApiKey;
    expect(revoked.id).toBe(key.id);
    expect(revoked.revokedAt).not.toBeNull();
    expectErrorCode(await call(ME, {}, key.secret), 'UNAUTHENTICATED');
    const again = expectNoErrors(await call(REVOKE, { id: key.id }, u.accessToken)).revokeApiKey;
    expect(again.revokedAt).toBe(revoked.revokedAt);
    const listed = expectNoErrors(await call(LIST, {}, u.accessToken)).apiKeys;
    expect(listed.find((k: any) => k.id === key.id).revokedAt).toBe(revoked.revokedAt);
    expect(listed.find((k: any) => k.id === other.id).revokedAt).toBeNull();
    // Only that key stopped.
    expect(expectNoErrors(await call(ME, {}, other.secret)).me.id).toBe(u.id);
  });

  it('answers NOT_FOUND for someone else’s key id and an unknown id, BAD_USER_INPUT for a malformed one, and revokes nothing', async () => {
    const a = await t.seed.user();
    const b = await t.seed.user();
    const keyB = await t.seed.apiKey(b, ['TASKS_READ']);
    const foreign = expectErrorCode(
      await call(REVOKE, { id: keyB.id }, a.accessToken),
      'NOT_FOUND',
    );
    const unknown = expectErrorCode(
      await call(REVOKE, { id: randomUUID() }, a.accessToken),
      'NOT_FOUND',
    );
    // Someone else's key answers exactly as a key that does not exist.
    expect(foreign.message).toBe(unknown.message);
    expectErrorCode(await call(REVOKE, { id: 'not-a-uuid' }, a.accessToken), 'BAD_USER_INPUT');
    expect(expectNoErrors(await call(ME, {}, keyB.secret)).me.id).toBe(b.id);
    expect(
      expectNoErrors(await call(LIST, {}, b.accessToken)).apiKeys.find((k: any) => k.id === keyB.id)
        .revokedAt,
    ).toBeNull();
  });
});
