// The burst side of bench/login-burst.ts, in a process of its own: the steady query's client
// must not share an event loop with 200 requests it would then wait behind itself. Reads one
// job a line on stdin ({ base, requests: [{ query, variables, headers }] }), sends every
// request at once on as many new connections (each job opens its own, as a burst of new
// clients would, and closes them after), and writes one line of JSON results to stdout:
// [{ ms, end, data?, errors? }], `end` counted from when the job was read.
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const job = JSON.parse(line);
  const dispatcher = new Agent({ connections: job.requests.length });
  const start = performance.now();
  const results = await Promise.all(
    job.requests.map(async ({ query, variables, headers }) => {
      const sent = performance.now();
      const res = await request(`${job.base}/graphql`, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      const body = await res.body.json();
      const now = performance.now();
      return { ms: now - sent, end: now - start, ...body };
    }),
  );
  process.stdout.write(`${JSON.stringify(results)}\n`);
  await dispatcher.close();
}
