#!/usr/bin/env node
// A partner integration with plain fetch: an API key with the USAGE_READ scope pages through
// every usage record of its owner and prints the tokens per month (UTC) and tool.
//
//   SWITCHBOARD_URL=http://127.0.0.1:4000 SWITCHBOARD_API_KEY=sk_... node examples/partner-usage.mjs
//
// Prints one line per month and tool, oldest month first: `2026-12  text-stats  3 calls  41 tokens`,
// then `total  N calls  M tokens`. Exits 1 with the server's error code on a refused request;
// waits and retries when told RATE_LIMITED or SERVICE_UNAVAILABLE (it honours retryAfter).
import { readFileSync } from 'node:fs';

const url = `${(process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:4000').replace(/\/$/, '')}/graphql`;
const key = process.env.SWITCHBOARD_API_KEY;
if (!key) {
  console.error('Set SWITCHBOARD_API_KEY to an API key with the USAGE_READ scope');
  process.exit(2);
}

// The operation is examples/operations/PartnerUsagePage.graphql: `npm run codegen` checks it
// against the schema and types it, so this script cannot drift.
const PAGE = readFileSync(
  new URL('./operations/PartnerUsagePage.graphql', import.meta.url),
  'utf8',
);

async function request(query, variables) {
  for (let attempt = 1; ; attempt += 1) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = await res.json();
    const error = body.errors?.[0];
    if (!error) return body.data;
    const code = error.extensions?.code;
    if ((code === 'RATE_LIMITED' || code === 'SERVICE_UNAVAILABLE') && attempt < 5) {
      const seconds = Number(error.extensions?.retryAfter ?? 1);
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      continue;
    }
    throw Object.assign(new Error(`${code}: ${error.message}`), { code });
  }
}

const totals = new Map(); // "YYYY-MM\ttool" -> { calls, tokens }
let after = null;
let pages = 0;
try {
  do {
    const { usageRecords } = await request(PAGE, { after });
    for (const record of usageRecords.nodes) {
      const key = `${record.createdAt.slice(0, 7)}\t${record.tool.slug}`;
      const sum = totals.get(key) ?? { calls: 0, tokens: 0 };
      sum.calls += 1;
      sum.tokens += record.totalTokens;
      totals.set(key, sum);
    }
    after = usageRecords.pageInfo.hasNextPage ? usageRecords.pageInfo.endCursor : null;
    pages += 1;
  } while (after);
} catch (err) {
  console.error(err.message);
  process.exit(1);
}

let calls = 0;
let tokens = 0;
for (const [key, sum] of [...totals].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
  const [month, tool] = key.split('\t');
  console.log(`${month}  ${tool}  ${sum.calls} calls  ${sum.tokens} tokens`);
  calls += sum.calls;
  tokens += sum.tokens;
}
console.log(`total  ${calls} calls  ${tokens} tokens  (${pages} pages)`);
