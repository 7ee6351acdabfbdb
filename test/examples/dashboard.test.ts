import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectNoErrors } from '../helpers/graphql';
import { DashboardLoginDocument, DashboardMeteringDocument } from '../helpers/graphql-types';
import { unique } from '../helpers/seed';

/**
 * examples/dashboard.mjs (Apollo Client) runs against a started server whose access tokens
 * last 2 seconds, so that its refresh-on-expiry path runs for real: three requests fail on the
 * expired token at once, one refresh runs, all three are answered.
 */
const run = promisify(execFile);
const SCRIPT = join(__dirname, '../../examples/dashboard.mjs');

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ bcryptCost: 4, accessTokenTtlSeconds: 2 });
});
afterAll(() => t.close());

it('examples/dashboard.mjs signs up, pages tasks, calls a tool, reads metering, and refreshes once on expiry', async () => {
  const email = `${unique()}@example.com`;
  const { stdout } = await run(process.execPath, [SCRIPT, '--register', '--wait-for-expiry'], {
    env: { ...process.env, SWITCHBOARD_URL: t.url, EMAIL: email, PASSWORD: 'a long passphrase 1' },
  });
  const lines = stdout.trim().split('\n');
  expect(lines[0]).toBe(`signed in as ${email}`);
  expect(lines[1]).toBe('tasks: 3 of 3');
  expect(lines[2]).toMatch(/^text-stats: [1-9]\d* tokens$/);
  const tokens = Number(/(\d+) tokens$/.exec(lines[2]!)![1]);
  expect(lines[3]).toBe(`plan FREE: ${tokens} tokens used this period, 1 calls`);
  expect(lines[4]).toBe('after expiry: 3 answers, 1 refresh');

  // The script's own operations (typed by codegen) agree with what it printed.
  const login = expectNoErrors(
    await t.gql(DashboardLoginDocument, { i: { email, password: 'a long passphrase 1' } }),
  ).login;
  expect(login.user.email).toBe(email);
  const metering = expectNoErrors(await t.gql(DashboardMeteringDocument, {}, login.accessToken));
  expect(metering.mySubscription.tokensUsed).toBe(tokens);
  expect(metering.myUsage).toEqual({ calls: 1, totalTokens: tokens });
}, 30_000);
