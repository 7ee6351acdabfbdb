import { randomBytes } from 'node:crypto';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors } from '../helpers/graphql';
import type { SeededUser } from '../helpers/seed';
import {
  createTool,
  INVOKE,
  sendJson,
  startUpstream,
  type FakeUpstream,
} from '../tools/fake-upstream';

type Labels = Record<string, string>;

/** GET /metrics, parsed: one entry a sample line. */
async function scrape(t: TestApp): Promise<{ name: string; labels: Labels; value: number }[]> {
  const res = await fetch(`${t.url}/metrics`);
  expect(res.status).toBe(200);
  const samples = [];
  for (const line of (await res.text()).split('\n')) {
    const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Labels = {};
    for (const [, key, value] of match[2]?.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g) ?? []) {
      labels[key!] = value!;
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sample of `name` whose labels are exactly `labels`; 0 when there is none. */
async function value(t: TestApp, name: string, labels: Labels): Promise<number> {
  const sample = (await scrape(t)).find(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return sample?.value ?? 0;
}

const OPERATIONS = 'switchboard_graphql_operation_duration_seconds_count';
const UPSTREAM = 'switchboard_upstream_call_duration_seconds_count';
const BREAKER = 'switchboard_upstream_breaker_state';

describe('/metrics: GraphQL operations', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ metricsOperationNames: ['Plans', 'ChangePlan'] });
  });
  afterAll(() => t.close());

  it('times operations by type and configured name; any other name is "other", so random names add no series', async () => {
    const known = await value(t, OPERATIONS, { type: 'query', operation: 'Plans' });
    const other = await value(t, OPERATIONS, { type: 'query', operation: 'other' });
    const anonymous = await value(t, OPERATIONS, { type: 'query', operation: 'anonymous' });
    const mutation = await value(t, OPERATIONS, { type: 'mutation', operation: 'ChangePlan' });

    expectNoErrors(await t.gql(`query Plans { plans { tier } }`));
    expectNoErrors(await t.gql(`{ plans { tier } }`));
    const random = Array.from({ length: 20 }, () => `Op_${randomBytes(6).toString('hex')}`);
    for (const name of random) expectNoErrors(await t.gql(`query ${name} { plans { tier } }`));
    // Refused operations are timed too (under their own name); a document that never becomes
    // an operation (it does not parse) is not.
    expectErrorCode(
      await t.gql(`mutation ChangePlan { changePlan(tier: PRO) { id } }`),
      'UNAUTHENTICATED',
    );
    expect((await t.gql(`query Broken {`)).status).toBe(400);

    const samples = await scrape(t);
    const series = samples.filter((s) => s.name === OPERATIONS);
    expect(await value(t, OPERATIONS, { type: 'query', operation: 'Plans' })).toBe(known + 1);
    expect(await value(t, OPERATIONS, { type: 'query', operation: 'anonymous' })).toBe(
      anonymous + 1,
    );
    expect(await value(t, OPERATIONS, { type: 'query', operation: 'other' })).toBe(other + 20);
    expect(await value(t, OPERATIONS, { type: 'mutation', operation: 'ChangePlan' })).toBe(
      mutation + 1,
    );
    const text = JSON.stringify(samples);
    for (const name of random) expect(text).not.toContain(name);
    expect(text).not.toContain('Broken');
    // Only the configured names, "other" and "anonymous", by type.
    for (const s of series) {
      expect(['Plans', 'ChangePlan', 'other', 'anonymous']).toContain(s.labels.operation);
      expect(['query', 'mutation']).toContain(s.labels.type);
    }
  });

  it('shows quota reservation outcomes from zero, refused by reason', async () => {
    const name = 'switchboard_quota_reservations_total';
    const samples = (await scrape(t)).filter((s) => s.name === name);
    expect(
      samples.map((s) => s.labels).sort((a, b) => (a.reason ?? '').localeCompare(b.reason ?? '')),
    ).toEqual([
      { outcome: 'reserved' },
      { outcome: 'refused', reason: 'error' },
      { outcome: 'refused', reason: 'quota_exceeded' },
      { outcome: 'refused', reason: 'rate_limited' },
      { outcome: 'refused', reason: 'unavailable' },
    ]);
  });

  it('counts each reservation: made, refused over quota, refused over the rate', async () => {
    const RESERVATIONS = 'switchboard_quota_reservations_total';
    const count = (labels: Labels) => value(t, RESERVATIONS, labels);
    const before = {
      reserved: await count({ outcome: 'reserved' }),
      quota: await count({ outcome: 'refused', reason: 'quota_exceeded' }),
      rate: await count({ outcome: 'refused', reason: 'rate_limited' }),
    };
    const user = await t.seed.user();
    const call = () =>
      t.gql(
        `mutation { invokeTool(slug: "text-stats", input: { text: "count me" }) { output } }`,
        {},
        user.accessToken,
      );
    expectNoErrors(await call());
    expect(await count({ outcome: 'reserved' })).toBe(before.reserved + 1);

    // The FREE quota used up: the next reservation is refused before any call.
    await t.sql(
      `update subscriptions set tokens_used = 10000, period_start = date_trunc('month', now())
        where user_id = ?`,
      [user.id],
    );
    expectErrorCode(await call(), 'QUOTA_EXCEEDED');
    expect(await count({ outcome: 'refused', reason: 'quota_exceeded' })).toBe(before.quota + 1);

    // FREE allows 10 calls a minute; this user has made 2.
    await t.sql(`update subscriptions set tokens_used = 0 where user_id = ?`, [user.id]);
    for (let i = 0; i < 8; i += 1) expectNoErrors(await call());
    expectErrorCode(await call(), 'RATE_LIMITED');
    expect(await count({ outcome: 'refused', reason: 'rate_limited' })).toBe(before.rate + 1);
    expect(await count({ outcome: 'reserved' })).toBe(before.reserved + 9);
  });
});

describe('/metrics: upstream tools', () => {
  let t: TestApp;
  let admin: SeededUser;
  let user: SeededUser;
  let upstream: FakeUpstream;
  let failing = false;

  beforeAll(async () => {
    t = await startTestApp({
      toolRetries: 0,
      toolBreakerFailures: 2,
      toolBreakerResetMs: 600_000,
    });
    admin = await t.seed.admin();
    user = await t.seed.user();
    upstream = await startUpstream((_req, res) =>
      failing ? sendJson(res, 500, { error: 'down' }) : sendJson(res, 200, { output: 'fine' }),
    );
  });
  afterAll(async () => {
    await upstream.close();
    await t.close();
  });

  it('times each call by tool and outcome, and shows its breaker opening', async () => {
    const tool = await createTool(t, admin.accessToken, { endpointUrl: upstream.url });
    const invoke = () => t.gql<any>(INVOKE, { slug: tool.slug, input: { q: 1 } }, user.accessToken);

    expectNoErrors(await invoke());
    // Labelled by the tool's slug (bounded: tools come from the admin's registry).
    const samples = await scrape(t);
    const labelled = samples.find((s) => s.name === UPSTREAM && s.labels.tool === tool.slug);
    expect(labelled).toBeDefined();
    const label = labelled!.labels.tool!;
    expect(await value(t, UPSTREAM, { tool: label, outcome: 'ok' })).toBe(1);
    expect(await value(t, BREAKER, { tool: label })).toBe(0);

    failing = true;
    for (let i = 0; i < 2; i += 1) expectErrorCode(await invoke(), 'UPSTREAM_ERROR');
    expect(await value(t, UPSTREAM, { tool: label, outcome: 'error' })).toBe(2);
    expect(await value(t, BREAKER, { tool: label })).toBe(2);

    // Open: the next call never reaches the tool.
    const reached = upstream.requests.length;
    expectErrorCode(await invoke(), 'UPSTREAM_ERROR');
    expect(upstream.requests).toHaveLength(reached);
    expect(await value(t, UPSTREAM, { tool: label, outcome: 'refused' })).toBe(1);
  });
});
