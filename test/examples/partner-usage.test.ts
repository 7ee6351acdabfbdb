import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectNoErrors } from '../helpers/graphql';
import { PartnerUsagePageDocument } from '../helpers/graphql-types';

/**
 * examples/partner-usage.mjs runs as a partner would run it, against a started server, so that
 * it never rots: it pages every usage record with an API key and prints monthly totals per tool.
 */
const run = promisify(execFile);
const SCRIPT = join(__dirname, '../../examples/partner-usage.mjs');

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ bcryptCost: 4 });
});
afterAll(() => t.close());

async function partner(apiKey: string) {
  return run(process.execPath, [SCRIPT], {
    env: { ...process.env, SWITCHBOARD_URL: t.url, SWITCHBOARD_API_KEY: apiKey },
  });
}

describe('examples/partner-usage.mjs', () => {
  it('pages every record with a USAGE_READ key and prints the totals per month and tool', async () => {
    const user = await t.seed.user();
    // Two calls through the API, and 150 older records (two months, two tools) written directly,
    // so that the script has to follow the cursor over two pages.
    for (const text of ['One call.', 'Another call here.']) {
      expectNoErrors(
        await t.gql(
          `mutation($t: String!) { invokeTool(slug: "text-stats", input: { text: $t }) { output } }`,
          { t: text },
          user.accessToken,
        ),
      );
    }
    const tools = await t.sql<{ id: string }>(
      `select id from tools where slug in ('text-stats', 'summarize') order by slug`,
    );
    // Record i: the two tools in turn, October or November 2026, i + 1 tokens.
    await t.sql(
      `insert into usage_records (id, user_id, tool_id, input_tokens, output_tokens, total_tokens, status, latency_ms, created_at)
       select gen_random_uuid(), ?, (?::uuid[])[1 + i % 2], 1, i, i + 1, 'SUCCEEDED', 1,
              make_timestamptz(2026, case when i % 3 = 0 then 10 else 11 end, 1 + i % 28, 12, 0, 0, 'UTC')
         from generate_series(0, 149) i`,
      [user.id, `{${tools.map((tool) => tool.id).join(',')}}`],
    );
    const expected = await t.sql<{ month: string; slug: string; calls: number; tokens: number }>(
      `select to_char(r.created_at at time zone 'UTC', 'YYYY-MM') as month, t.slug,
              count(*)::int as calls, sum(r.total_tokens)::int as tokens
         from usage_records r join tools t on t.id = r.tool_id
        where r.user_id = ? group by 1, 2 order by 1, 2`,
      [user.id],
    );
    expect(expected.length).toBeGreaterThanOrEqual(4);

    const key = await t.seed.apiKey(user, ['USAGE_READ']);
    const { stdout } = await partner(key.secret);
    const lines = stdout.trim().split('\n');
    expect(lines.slice(0, -1)).toEqual(
      expected.map((row) => `${row.month}  ${row.slug}  ${row.calls} calls  ${row.tokens} tokens`),
    );
    const calls = expected.reduce((n, row) => n + row.calls, 0);
    const tokens = expected.reduce((n, row) => n + row.tokens, 0);
    expect(lines.at(-1)).toBe(`total  ${calls} calls  ${tokens} tokens  (2 pages)`);

    // The script's own operation (typed by codegen): its first page is full and says more follow.
    const first = expectNoErrors(
      await t.gql(PartnerUsagePageDocument, {}, key.secret),
    ).usageRecords;
    expect(first.nodes).toHaveLength(100);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = expectNoErrors(
      await t.gql(PartnerUsagePageDocument, { after: first.pageInfo.endCursor }, key.secret),
    ).usageRecords;
    expect(first.nodes.length + second.nodes.length).toBe(calls);
    expect(second.pageInfo.hasNextPage).toBe(false);
  });

  it('stops with the server’s code when the key may not read usage', async () => {
    const user = await t.seed.user();
    const key = await t.seed.apiKey(user, ['TASKS_READ']);
    await expect(partner(key.secret)).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('FORBIDDEN'),
    });
    await expect(partner('sk_not_a_real_key')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('UNAUTHENTICATED'),
    });
  });
});
