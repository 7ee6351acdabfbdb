import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectNoErrors } from '../helpers/graphql';

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
    const em = t.app.orm.em.fork();
    const tools = (await em
      .getConnection()
      .execute(`select id, slug from tools where slug in ('text-stats', 'summarize')`)) as {
      id: string;
      slug: string;
    }[];
    for (let i = 0; i < 150; i += 1) {
      const tool = tools[i % 2]!;
      const at = new Date(Date.UTC(2026, 9 + (i % 3 === 0 ? 0 : 1), 1 + (i % 28), 12));
      await em.getConnection().execute(
        `insert into usage_records (id, user_id, tool_id, input_tokens, output_tokens, total_tokens, status, latency_ms, created_at)
           values (?, ?, ?, 1, ?, ?, 'SUCCEEDED', 1, ?)`,
        [randomUUID(), user.id, tool.id, i, i + 1, at],
      );
    }
    const expected = (await em.getConnection().execute(
      `select to_char(r.created_at at time zone 'UTC', 'YYYY-MM') as month, t.slug,
              count(*)::int as calls, sum(r.total_tokens)::int as tokens
         from usage_records r join tools t on t.id = r.tool_id
        where r.user_id = ? group by 1, 2 order by 1, 2`,
      [user.id],
    )) as { month: string; slug: string; calls: number; tokens: number }[];
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
