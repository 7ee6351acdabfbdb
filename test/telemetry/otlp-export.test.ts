import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createApp } from '../../src/app';
import { telemetry } from '../../src/telemetry';
import { startTestApp } from '../helpers/create-test-app';
import { expectNoErrors } from '../helpers/graphql';
import { testConfig } from '../helpers/test-config';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** An OTLP/HTTP collector on 127.0.0.1 that keeps every request it gets. */
async function startCollector(): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, received };
}

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number };
}
interface OtlpSpan {
  name: string;
  kind: number;
  traceId: string;
  attributes: OtlpAttribute[];
}
interface OtlpTraces {
  resourceSpans: {
    resource: { attributes: OtlpAttribute[] };
    scopeSpans: { spans: OtlpSpan[] }[];
  }[];
}

const attribute = (attributes: OtlpAttribute[], key: string) =>
  attributes.find((a) => a.key === key)?.value;

it('exports the spans as OTLP/HTTP JSON to the endpoint, with the SDK reading its headers from OTEL_*, and flushes them on close', async () => {
  const collector = await startCollector();
  const before = process.env.OTEL_EXPORTER_OTLP_HEADERS;
  process.env.OTEL_EXPORTER_OTLP_HEADERS = 'x-collector-token=test-token-123';
  try {
    const t = await startTestApp({
      otelTracesEndpoint: `${collector.url}/v1/traces`,
      otelServiceName: 'switchboard-test',
    });
    try {
      expect(telemetry.enabled).toBe(true);
      const user = await t.seed.user();
      expectNoErrors(await t.gql(`query Exported { me { id } }`, {}, user.accessToken));
    } finally {
      // Flushes the batch: the spans are at the collector when close() returns.
      await t.close();
    }
    expect(telemetry.enabled).toBe(false);

    expect(collector.received.length).toBeGreaterThan(0);
    for (const request of collector.received) {
      expect(request.method).toBe('POST');
      expect(request.url).toBe('/v1/traces');
      expect(request.headers['content-type']).toMatch(/^application\/json/);
      expect(request.headers['x-collector-token']).toBe('test-token-123');
    }
    const exported = collector.received.map((r) => JSON.parse(r.body) as OtlpTraces);
    const resources = exported.flatMap((e) => e.resourceSpans);
    for (const { resource } of resources) {
      expect(attribute(resource.attributes, 'service.name')?.stringValue).toBe('switchboard-test');
    }
    const spans = resources.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    const operation = spans.find((s) => s.name === 'query Exported');
    expect(operation).toBeDefined();
    expect(attribute(operation!.attributes, 'graphql.operation.name')?.stringValue).toBe(
      'Exported',
    );
    const sameTrace = spans.filter((s) => s.traceId === operation!.traceId);
    expect(sameTrace.map((s) => s.name)).toContain('POST /graphql');
    expect(
      sameTrace.some((s) => attribute(s.attributes, 'db.system')?.stringValue === 'postgresql'),
    ).toBe(true);
  } finally {
    if (before === undefined) delete process.env.OTEL_EXPORTER_OTLP_HEADERS;
    else process.env.OTEL_EXPORTER_OTLP_HEADERS = before;
    await new Promise((resolve) => collector.server.close(resolve));
  }
});

it('shuts tracing down again when the app fails to start after it, so a retry can start it', async () => {
  // A database nobody listens for (port 9 refuses at once): the start fails after tracing began.
  const failing = testConfig({
    databaseUrl: 'postgres://postgres@127.0.0.1:9/nothing',
    otelTracesEndpoint: 'http://127.0.0.1:9/v1/traces',
  });
  await expect(createApp(failing)).rejects.toThrow(/ECONNREFUSED/);
  expect(telemetry.enabled).toBe(false);
  const t = await startTestApp({ otelTracesEndpoint: 'http://127.0.0.1:9/v1/traces' });
  expect(telemetry.enabled).toBe(true);
  await t.close();
  expect(telemetry.enabled).toBe(false);
});

it('logs where it exports to without the credentials an endpoint can carry', async () => {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  const t = await startTestApp(
    { otelTracesEndpoint: 'http://user:tok3n@127.0.0.1:9/v1/traces?api-key=k3y' },
    { logger },
  );
  await t.close();
  const started = lines.find((line) => line.includes('exporting traces'));
  expect(started).toContain('"endpoint":"http://127.0.0.1:9"');
  expect(lines.join('\n')).not.toMatch(/tok3n|k3y/);
});
