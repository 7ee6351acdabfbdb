import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { statementWithoutValues } from '../../src/db/statement-tracing';
import { startTelemetry, telemetry, type Telemetry } from '../../src/telemetry';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, gql } from '../helpers/graphql';
import type { SeededUser } from '../helpers/seed';
import {
  createTool,
  INVOKE,
  sendJson,
  startUpstream,
  type FakeUpstream,
} from '../tools/fake-upstream';
import { childrenOf, newTraceparent, parentOf, recordedText, traceOf } from './span-tree';

const exporter = new InMemorySpanExporter();
let tracing: Telemetry;
let t: TestApp;
let user: SeededUser;

beforeAll(async () => {
  // Through the app's own telemetry module, with every span kept in memory as it ends.
  tracing = (await startTelemetry({ exporter }))!;
  t = await startTestApp();
  user = await t.seed.user();
});
afterAll(async () => {
  await t.close();
  await tracing.shutdown();
});
beforeEach(() => exporter.reset());

/** POSTs `query` as `token` in a trace of its own; the answer and the trace's spans. */
async function traced(query: string, variables: Record<string, unknown> = {}, token?: string) {
  const trace = newTraceparent();
  const res = await gql(t.url, query, variables, token, { traceparent: trace.header });
  const { spans, server } = await traceOf(exporter, trace.traceId);
  return { res, spans, server, trace };
}

const only = (spans: ReadableSpan[]): ReadableSpan => {
  expect(spans).toHaveLength(1);
  return spans[0]!;
};

describe('traces (OpenTelemetry)', () => {
  it('starts from the caller traceparent: HTTP server span, then the operation with its cost, then one span per SQL statement', async () => {
    expect(telemetry.enabled).toBe(true);
    let res!: Awaited<ReturnType<typeof traced>>;
    const statements = await t.countQueries(async () => {
      res = await traced(`query Me { me { id email } }`, {}, user.accessToken);
    });
    expect(expectNoErrors(res.res).me.email).toBe(user.email);
    const { spans, server, trace } = res;

    // The HTTP server span continues the caller's trace.
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(parentOf(server)).toBe(trace.parentId);
    expect(server.name).toBe('POST /graphql');
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/graphql',
      'url.path': '/graphql',
      'http.response.status_code': 200,
    });

    // The GraphQL operation, named and costed.
    const operation = only(childrenOf(spans, server));
    expect(operation.name).toBe('query Me');
    expect(operation.attributes).toMatchObject({
      'graphql.operation.type': 'query',
      'graphql.operation.name': 'Me',
      'switchboard.query_cost.requested': 3,
      'switchboard.query_cost.actual': 3,
    });
    expect(operation.status.code).not.toBe(SpanStatusCode.ERROR);

    // One client span per statement the request sent, its text without values.
    const sql = childrenOf(spans, operation).filter(
      (s) => s.attributes['db.system'] === 'postgresql',
    );
    expect(statements.length).toBeGreaterThan(0);
    expect(sql).toHaveLength(statements.length);
    for (const span of sql) {
      expect(span.kind).toBe(SpanKind.CLIENT);
      expect(span.attributes['db.system']).toBe('postgresql');
      expect(span.name).toMatch(/^[A-Z]+$/);
    }
    expect(sql.map((s) => s.attributes['db.statement']).sort()).toEqual(
      statements.map(statementWithoutValues).sort(),
    );
    // Nothing else but the cost budget's Redis call (with TEST_REDIS_URL).
    const others = childrenOf(spans, operation).filter((s) => !sql.includes(s));
    expect(others.every((s) => s.attributes['db.system'] === 'redis')).toBe(true);
    expect(spans).toHaveLength(2 + sql.length + others.length);
  });

  it('never records a value: the email of a sign-in is in the SQL sent, in no span', async () => {
    const email = user.email;
    let res!: Awaited<ReturnType<typeof traced>>;
    const statements = await t.countQueries(async () => {
      res = await traced(
        `mutation SignIn($input: LoginInput!) { login(input: $input) { accessToken } }`,
        { input: { email, password: user.password } },
      );
    });
    expectNoErrors(res.res);
    const sql = res.spans.filter((s) => s.attributes['db.system'] === 'postgresql');
    expect(sql.length).toBeGreaterThan(0);
    // The email went to the database (written into the text by MikroORM, or as a parameter):
    // the statement that looked it up is recorded with a placeholder in its place.
    expect(statements.join('\n')).toMatch(/email"? = /);
    expect(sql.some((s) => /email"? = (\?|\$\d+)/.test(String(s.attributes['db.statement'])))).toBe(
      true,
    );
    const text = recordedText(res.spans);
    expect(text).not.toContain(email);
    expect(text).not.toContain(email.split('@')[0]);
    expect(text).not.toContain(user.password);
  });

  it('marks a refused operation on its span without turning it into a server error', async () => {
    const { res, spans, server } = await traced(`query Nobody { me { id } }`);
    expectErrorCode(res, 'UNAUTHENTICATED');
    const operation = only(childrenOf(spans, server));
    expect(operation.name).toBe('query Nobody');
    expect(operation.attributes['switchboard.graphql.error_codes']).toEqual(['UNAUTHENTICATED']);
    expect(operation.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  const itRedis = process.env.TEST_REDIS_URL ? it : it.skip; // skipped without TEST_REDIS_URL (CI sets it)
  itRedis(
    'shows the Redis call of the cost budget under the operation, without its key',
    async () => {
      const { spans, server } = await traced(`query Me { me { id } }`, {}, user.accessToken);
      const operation = only(childrenOf(spans, server));
      const redis = childrenOf(spans, operation).filter(
        (s) => s.attributes['db.system'] === 'redis',
      );
      expect(redis.map((s) => s.name)).toContain('redis cost-budget');
      for (const span of redis) {
        expect(span.kind).toBe(SpanKind.CLIENT);
        expect(typeof span.attributes['server.port']).toBe('number');
      }
      expect(recordedText(redis)).not.toContain(user.id);
    },
  );

  describe('an upstream tool call', () => {
    let upstream: FakeUpstream;
    beforeAll(async () => {
      upstream = await startUpstream((_req, res) =>
        sendJson(res, 200, { output: { ok: true }, usage: { inputTokens: 3, outputTokens: 4 } }),
      );
    });
    afterAll(() => upstream.close());

    it('is a client span under the operation, and the tool receives its traceparent', async () => {
      const admin = await t.seed.admin();
      const tool = await createTool(t, admin.accessToken, {
        endpointUrl: `${upstream.url}/hook-s3cret-path?key=s3cret`,
      });
      const { res, spans, server } = await traced(
        INVOKE,
        { slug: tool.slug, input: { text: 'hello' } },
        user.accessToken,
      );
      expectNoErrors(res);
      const operation = only(childrenOf(spans, server));
      expect(operation.name).toBe('mutation');
      const call = only(childrenOf(spans, operation).filter((s) => s.name.startsWith('tool ')));
      expect(call.kind).toBe(SpanKind.CLIENT);
      expect(call.attributes).toMatchObject({
        'http.request.method': 'POST',
        'url.full': new URL(upstream.url).origin,
        'server.address': '127.0.0.1',
        'http.response.status_code': 200,
        'switchboard.tool.attempts': 1,
      });
      expect(call.attributes['switchboard.tool']).toBe(tool.slug);
      expect(recordedText(spans)).not.toContain('s3cret');
      expect(recordedText(spans)).not.toContain('hello');

      // What the tool received continues the same trace, with this span as its parent.
      const received = upstream.requests.at(-1)!.headers.traceparent;
      expect(received).toBe(`00-${call.spanContext().traceId}-${call.spanContext().spanId}-01`);

      if (process.env.TEST_REDIS_URL) {
        const limit = childrenOf(spans, operation).find((s) => s.name === 'redis rate-limit');
        expect(limit?.attributes['switchboard.rate_limit.bucket']).toBe('invoke');
      }
    });
  });

  it('ends the HTTP span of a request outside GraphQL with its route and status', async () => {
    const trace = newTraceparent();
    const res = await fetch(`${t.url}/nowhere?secret=1`, {
      headers: { traceparent: trace.header },
    });
    expect(res.status).toBe(404);
    const { spans, server } = await traceOf(exporter, trace.traceId);
    expect(spans).toHaveLength(1);
    expect(server.name).toBe('GET');
    expect(server.attributes).toMatchObject({
      'url.path': '/nowhere',
      'http.response.status_code': 404,
    });
    expect(recordedText(spans)).not.toContain('secret');
  });
});
