import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { telemetry } from '../../src/telemetry';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectNoErrors, gql } from '../helpers/graphql';
import {
  createTool,
  INVOKE,
  sendJson,
  startUpstream,
  type FakeUpstream,
} from '../tools/fake-upstream';
import { newTraceparent } from './span-tree';

/**
 * Without OTEL_EXPORTER_OTLP_ENDPOINT the app never starts telemetry, and no seam calls the
 * tracing API: a provider registered behind its back (as another library of the process might)
 * records nothing, even for a request that arrives with a traceparent.
 */
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let t: TestApp;
let upstream: FakeUpstream;

beforeAll(async () => {
  provider.register();
  t = await startTestApp();
  upstream = await startUpstream((_req, res) => sendJson(res, 200, { output: { ok: true } }));
});
afterAll(async () => {
  await upstream.close();
  await t.close();
  await provider.shutdown();
  trace.disable();
});

it('records no span with telemetry off, and sends no traceparent to tools', async () => {
  expect(telemetry.enabled).toBe(false);
  const admin = await t.seed.admin();
  const user = await t.seed.user();
  const tool = await createTool(t, admin.accessToken, { endpointUrl: upstream.url });
  const headers = { traceparent: newTraceparent().header };
  expectNoErrors(await gql(t.url, `query Me { me { id email } }`, {}, user.accessToken, headers));
  expectNoErrors(
    await gql(t.url, INVOKE, { slug: tool.slug, input: { q: 1 } }, user.accessToken, headers),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(exporter.getFinishedSpans()).toEqual([]);
  expect(upstream.requests.at(-1)!.headers.traceparent).toBeUndefined();
});
