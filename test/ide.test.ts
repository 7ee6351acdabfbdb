import Fastify, { type FastifyInstance } from 'fastify';
import { IDE_CSP, registerIdeAssets, renderIdePage, wantsIde } from '../src/ide';

const BROWSER_ACCEPT =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

describe('GraphQL IDE', () => {
  let app: FastifyInstance;
  let base: string;

  beforeAll(async () => {
    app = Fastify();
    registerIdeAssets(app);
    app.get('/graphql', async (request, reply) => {
      if (wantsIde(request.headers.accept, request.query)) {
        return reply
          .type('text/html; charset=utf-8')
          .header('content-security-policy', IDE_CSP)
          .send(renderIdePage('/graphql'));
      }
      return reply.code(400).send({ errors: [{ message: 'no query' }] });
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await app.close();
  });

  async function getPage(): Promise<string> {
    const res = await fetch(`${base}/graphql`, { headers: { accept: BROWSER_ACCEPT } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    return res.text();
  }

  function referencedUrls(html: string): string[] {
    return [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((match) => match[1] ?? '');
  }

  it('serves an HTML page that loads only /ide/assets/ URLs', async () => {
    const html = await getPage();
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('<title>Switchboard GraphQL IDE</title>');
    expect(html).toContain('data-endpoint="/graphql"');
    expect(html).toContain('http-equiv="Content-Security-Policy"');
    expect(html).not.toMatch(/<(?:script|link)\b[^>]*(?:src|href)="https?:\/\//i);
    // No inline script: every <script> has a src.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);

    const urls = referencedUrls(html);
    expect(urls.length).toBeGreaterThanOrEqual(5);
    for (const url of urls) expect(url.startsWith('/ide/assets/')).toBe(true);
  });

  it('serves every referenced asset with the right type, size and cache headers', async () => {
    const urls = referencedUrls(await getPage());
    for (const url of urls) {
      const res = await fetch(`${base}${url}`);
      expect(res.status).toBe(200);
      const path = url.split('?')[0] ?? '';
      const expectedType = path.endsWith('.css') ? /^text\/css/ : /^text\/javascript/;
      expect(res.headers.get('content-type')).toMatch(expectedType);
      expect(res.headers.get('cache-control')).toContain('immutable');
      expect(res.headers.get('etag')).toBeTruthy();
      expect(res.headers.get('last-modified')).toBeTruthy();
      const body = await res.text();
      expect(body.length).toBeGreaterThan(path.endsWith('/init.js') ? 200 : 10_000);

      const again = await fetch(`${base}${url}`, {
        headers: { 'if-none-match': res.headers.get('etag') ?? '' },
      });
      expect(again.status).toBe(304);
    }
  });

  it('points the init script at the endpoint through the page', async () => {
    const res = await fetch(`${base}/ide/assets/init.js`);
    const js = await res.text();
    expect(js).toContain('GraphiQL.createFetcher({ url: endpoint })');
    expect(js).toContain('data-endpoint');
    expect(js).toContain('shouldPersistHeaders: true');
    expect(js).toContain('plans');
  });

  it('answers 404 for unknown assets and traversal attempts', async () => {
    for (const path of [
      '/ide/assets/unknown.js',
      '/ide/assets/..%2fpackage.json',
      '/ide/assets/..%2f..%2fpackage.json',
      '/ide/assets/%2e%2e%2fpackage.json',
      '/ide/assets/constructor',
      '/ide/assets/graphiql.min.js.map',
    ]) {
      const res = await fetch(`${base}${path}`);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
    }
  });

  it('does not serve the IDE to GraphQL clients', async () => {
    const res = await fetch(`${base}/graphql`, { headers: { accept: 'application/json' } });
    expect(res.headers.get('content-type')).not.toMatch(/^text\/html/);
  });

  describe('wantsIde', () => {
    it('is true for a browser navigating to the endpoint', () => {
      expect(wantsIde(BROWSER_ACCEPT, {})).toBe(true);
      expect(wantsIde(BROWSER_ACCEPT, undefined)).toBe(true);
      expect(wantsIde('text/html', { variables: '{}' })).toBe(true);
    });

    it('is false for GraphQL clients', () => {
      expect(wantsIde('application/json', {})).toBe(false);
      expect(wantsIde('application/graphql-response+json, application/json;q=0.9', {})).toBe(false);
      expect(wantsIde('*/*', {})).toBe(false);
      expect(wantsIde(undefined, {})).toBe(false);
      expect(wantsIde('application/json, text/html;q=0.5', {})).toBe(false);
      expect(wantsIde('text/html;q=0', {})).toBe(false);
    });

    it('is false when the request carries a query', () => {
      expect(wantsIde(BROWSER_ACCEPT, { query: '{ plans { tier } }' })).toBe(false);
      expect(wantsIde(BROWSER_ACCEPT, '{ plans { tier } }')).toBe(false);
    });
  });
});
