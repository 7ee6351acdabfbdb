import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * `GET /graphql/schema.graphql`: the schema's SDL, the public contract, served in production too
 * (as GitHub and Shopify publish theirs), so that partners run codegen while introspection is
 * off. It changes only with a deploy: an ETag (its SHA-256) lets clients and caches revalidate
 * for nothing (304). PUBLISH_SCHEMA=false turns it off.
 */
export function registerSchemaRoute(server: FastifyInstance, sdl: string): void {
  const etag = `"${createHash('sha256').update(sdl).digest('base64url')}"`;
  server.get('/graphql/schema.graphql', async (request: FastifyRequest, reply: FastifyReply) => {
    void reply
      .header('etag', etag)
      .header('cache-control', 'public, max-age=300, must-revalidate')
      .header('content-type', 'text/plain; charset=utf-8');
    const match = request.headers['if-none-match'];
    if (match && match.split(',').some((tag) => tag.trim() === etag || tag.trim() === '*')) {
      return reply.code(304).send();
    }
    return sdl;
  });
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * What a browser opening `/graphql` gets in production (no IDE there): a small page that says
 * what the endpoint is and where the schema and docs are, instead of a CSRF error in JSON.
 * Self-contained: no script, no style sheet, no outside request.
 */
export function landingPage(options: { schemaPublished: boolean }): string {
  const schema = options.schemaPublished
    ? `<p>The schema (SDL) is published at <a href="/graphql/schema.graphql">/graphql/schema.graphql</a>: point GraphQL Code Generator or your IDE at it.</p>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape('Switchboard GraphQL API')}</title>
</head>
<body>
<h1>Switchboard GraphQL API</h1>
<p>This is a GraphQL endpoint. Send queries and mutations with <code>POST /graphql</code> and
<code>Content-Type: application/json</code>, a body of <code>{"query": "...", "variables": {...}}</code>,
and <code>Authorization: Bearer &lt;access token or API key&gt;</code>.</p>
${schema}
<p>Health: <a href="/health">/health</a>, readiness: <a href="/ready">/ready</a>.</p>
</body>
</html>
`;
}
