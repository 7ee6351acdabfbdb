import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * An offline GraphQL IDE (GraphiQL 3 on React 18 UMD builds), served by the API itself: no CDN,
 * no inline script, so it runs under {@link IDE_CSP}.
 */

/**
 * The Content-Security-Policy the IDE page works under (also embedded in the page as a meta tag).
 * GraphiQL sets inline styles at runtime, hence `'unsafe-inline'` for styles only; its stylesheet
 * embeds its fonts as `data:` URLs, hence `font-src data:` (without it, the page still works but
 * falls back to system fonts).
 */
export const IDE_CSP =
  "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "font-src 'self' data:; connect-src 'self'";

const ASSETS_PREFIX = '/ide/assets/';
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
/** One year: the URLs carry a content hash, so a changed file gets a new URL. */
const CACHE_CONTROL = 'public, max-age=31536000, immutable';

const DEFAULT_QUERY = `# Welcome to the Switchboard GraphQL IDE.
#
# Most fields need you signed in. Create an account or sign in with one of:
#
#   mutation { register(input: { email: "you@example.com", password: "…", name: "You" }) { accessToken } }
#   mutation { login(input: { email: "you@example.com", password: "…" }) { accessToken } }
#
# then open the Headers tab below and paste:
#
#   {"Authorization": "Bearer <accessToken>"}
#
# Plans are public, so this query works right away (Ctrl-Enter runs it):
query Plans {
  plans {
    tier
    name
    monthlyTokenQuota
    requestsPerMinute
  }
}
`;

/** The IDE's init script, served as /ide/assets/init.js (no inline script in the page). */
const INIT_JS = `(function () {
  'use strict';
  var root = document.getElementById('graphiql');
  var endpoint = root.getAttribute('data-endpoint') || '/graphql';
  var fetcher = GraphiQL.createFetcher({ url: endpoint });
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: ${JSON.stringify(DEFAULT_QUERY)},
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: 'headers',
      shouldPersistHeaders: true,
    }),
  );
})();
`;

interface IdeAsset {
  readonly body: Buffer;
  readonly contentType: string;
  /** Strong ETag (quoted), from the content hash. */
  readonly etag: string;
  /** Short content hash, appended to the asset's URL as `?v=`. */
  readonly version: string;
  readonly lastModified: string;
}

/** [served name, package, path inside the package, content type]: the whole whitelist. */
const PACKAGE_FILES: ReadonlyArray<readonly [string, string, string, string]> = [
  ['react.production.min.js', 'react', 'umd/react.production.min.js', JS],
  ['react-dom.production.min.js', 'react-dom', 'umd/react-dom.production.min.js', JS],
  ['graphiql.min.js', 'graphiql', 'graphiql.min.js', JS],
  ['graphiql.min.css', 'graphiql', 'graphiql.min.css', CSS],
];

function makeAsset(body: Buffer, contentType: string, modified: Date): IdeAsset {
  const hash = createHash('sha256').update(body).digest('hex');
  return {
    body,
    contentType,
    etag: `"${hash.slice(0, 32)}"`,
    version: hash.slice(0, 12),
    lastModified: modified.toUTCString(),
  };
}

/**
 * Finds a file inside an installed package. Resolving `<pkg>/package.json` (which react and
 * react-dom export) works wherever this module runs from (src/ under ts, dist/src/ under node).
 */
function packageFile(pkg: string, file: string): string {
  return join(dirname(require.resolve(`${pkg}/package.json`)), file);
}

let assets: ReadonlyMap<string, IdeAsset> | undefined;

/** Reads the assets on first use, then keeps them in memory for the life of the process. */
function loadAssets(): ReadonlyMap<string, IdeAsset> {
  if (assets) return assets;
  const loaded = new Map<string, IdeAsset>();
  for (const [name, pkg, file, contentType] of PACKAGE_FILES) {
    const fullPath = packageFile(pkg, file);
    loaded.set(name, makeAsset(readFileSync(fullPath), contentType, statSync(fullPath).mtime));
  }
  loaded.set('init.js', makeAsset(Buffer.from(INIT_JS, 'utf8'), JS, new Date()));
  assets = loaded;
  return loaded;
}

function assetUrl(name: string): string {
  const asset = loadAssets().get(name);
  if (!asset) throw new Error(`unknown IDE asset ${name}`);
  return `${ASSETS_PREFIX}${name}?v=${asset.version}`;
}

function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === etag || tag === '*');
}

/**
 * Registers GET /ide/assets/:file, serving only the whitelisted files (React, ReactDOM, GraphiQL's
 * bundle and stylesheet, and the init script) from memory, with long-lived immutable caching,
 * an ETag and Last-Modified. Anything else is a 404 (the name is a map key, never a path).
 */
export function registerIdeAssets(app: FastifyInstance): void {
  const files = loadAssets();
  app.get<{ Params: { file: string } }>(
    `${ASSETS_PREFIX}:file`,
    async (request: FastifyRequest<{ Params: { file: string } }>, reply: FastifyReply) => {
      const asset = files.get(request.params.file);
      if (!asset) return reply.callNotFound();
      reply
        .header('cache-control', CACHE_CONTROL)
        .header('etag', asset.etag)
        .header('last-modified', asset.lastModified)
        .header('x-content-type-options', 'nosniff');
      if (etagMatches(request.headers['if-none-match'], asset.etag)) {
        return reply.code(304).send();
      }
      return reply.type(asset.contentType).send(asset.body);
    },
  );
}

function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/**
 * The IDE page: GraphiQL pointed at `endpoint` (e.g. '/graphql'), loading only /ide/assets/*.
 * The endpoint travels in the root element's `data-endpoint`; the page has no inline script.
 */
export function renderIdePage(endpoint: string): string {
  const script = (name: string): string => `<script src="${assetUrl(name)}" defer></script>`;
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta http-equiv="Content-Security-Policy" content="${escapeHtml(IDE_CSP)}" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="referrer" content="no-referrer" />
    <title>Switchboard GraphQL IDE</title>
    <link rel="stylesheet" href="${assetUrl('graphiql.min.css')}" />
    ${script('react.production.min.js')}
    ${script('react-dom.production.min.js')}
    ${script('graphiql.min.js')}
    ${script('init.js')}
  </head>
  <body style="margin: 0">
    <div id="graphiql" style="height: 100vh" data-endpoint="${escapeHtml(endpoint)}">
      <noscript>The Switchboard GraphQL IDE needs JavaScript.</noscript>
    </div>
  </body>
</html>
`;
}

const HTML_TYPE = 'text/html';
const GRAPHQL_RESPONSE_TYPES = ['application/json', 'application/graphql-response+json'];

interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  readonly q: number;
  readonly index: number;
}

function parseAccept(accept: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  accept.split(',').forEach((part, index) => {
    const [mediaType = '', ...params] = part.split(';').map((piece) => piece.trim());
    const [type, subtype] = mediaType.toLowerCase().split('/');
    if (!type || !subtype) return;
    let q = 1;
    for (const param of params) {
      const [key, value] = param.split('=').map((piece) => piece.trim());
      if (key?.toLowerCase() === 'q' && value !== undefined) {
        const parsed = Number(value);
        q = Number.isFinite(parsed) ? Math.min(Math.max(parsed, 0), 1) : 0;
      }
    }
    ranges.push({ type, subtype, q, index });
  });
  return ranges;
}

interface Preference {
  readonly q: number;
  /** 2 = exact type/subtype, 1 = type/*, 0 = wildcard. */
  readonly specificity: number;
  readonly index: number;
}

/** How the Accept header rates `mediaType`: the most specific matching range decides. */
function preference(ranges: readonly MediaRange[], mediaType: string): Preference {
  const [type, subtype] = mediaType.split('/');
  let best: Preference = { q: 0, specificity: -1, index: Number.MAX_SAFE_INTEGER };
  for (const range of ranges) {
    let specificity: number;
    if (range.type === type && range.subtype === subtype) specificity = 2;
    else if (range.type === type && range.subtype === '*') specificity = 1;
    else if (range.type === '*' && range.subtype === '*') specificity = 0;
    else continue;
    if (specificity > best.specificity) best = { q: range.q, specificity, index: range.index };
  }
  return best;
}

function isBetter(a: Preference, b: Preference): boolean {
  if (a.q !== b.q) return a.q > b.q;
  if (a.specificity !== b.specificity) return a.specificity > b.specificity;
  return a.index < b.index;
}

function hasQueryParameter(query: unknown): boolean {
  if (typeof query === 'string') return query.length > 0;
  if (typeof query !== 'object' || query === null) return false;
  const value = (query as Record<string, unknown>).query;
  if (Array.isArray(value)) return value.length > 0;
  return value !== undefined && value !== null && value !== '';
}

/**
 * True when a GET of the GraphQL endpoint should get the IDE instead of a GraphQL response: the
 * Accept header rates text/html above every GraphQL response type (a browser navigating there)
 * and the request carries no `query` parameter. `query` is the parsed query string (e.g.
 * `request.query`) or the raw value of its `query` parameter.
 */
export function wantsIde(accept: string | undefined, query: unknown): boolean {
  if (!accept || hasQueryParameter(query)) return false;
  const ranges = parseAccept(accept);
  const html = preference(ranges, HTML_TYPE);
  if (html.q <= 0) return false;
  return GRAPHQL_RESPONSE_TYPES.every((type) => isBetter(html, preference(ranges, type)));
}
