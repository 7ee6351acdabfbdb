import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, gql } from '../helpers/graphql';

const COMMITTED = readFileSync(join(__dirname, '../../src/schema/schema.graphql'), 'utf8');

let prod: TestApp;
beforeAll(async () => {
  // As production runs: no IDE, no introspection.
  prod = await startTestApp({ ide: false, introspection: false });
});
afterAll(() => prod.close());

describe('the published schema', () => {
  it('is served at /graphql/schema.graphql with introspection off, as committed, with an ETag', async () => {
    const res = await fetch(`${prod.url}/graphql/schema.graphql`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe(COMMITTED);
    const etag = res.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    // Introspection itself stays off.
    expectErrorCode(await prod.gql(`{ __schema { types { name } } }`), 'BAD_USER_INPUT');
    // Unchanged: revalidation costs nothing.
    const again = await fetch(`${prod.url}/graphql/schema.graphql`, {
      headers: { 'if-none-match': etag! },
    });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const other = await fetch(`${prod.url}/graphql/schema.graphql`, {
      headers: { 'if-none-match': '"something-else"' },
    });
    expect(other.status).toBe(200);
    expect(await other.text()).toBe(COMMITTED);
  });

  it('can be turned off', async () => {
    const closed = await startTestApp({ publishSchema: false });
    try {
      expect((await fetch(`${closed.url}/graphql/schema.graphql`)).status).toBe(404);
    } finally {
      await closed.close();
    }
  });
});

describe('a browser opening /graphql in production', () => {
  it('gets a small self-contained page saying what the endpoint is, not a CSRF error', async () => {
    const res = await fetch(`${prod.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('GraphQL endpoint');
    expect(html).toContain('/graphql/schema.graphql');
    // No script, no outside request.
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\//);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    // Clients still get GraphQL over GET and POST.
    const query = await gql(prod.url, `{ plans { tier } }`);
    expect(query.data).toEqual({
      plans: [{ tier: 'FREE' }, { tier: 'PRO' }, { tier: 'ENTERPRISE' }],
    });
  });
});
