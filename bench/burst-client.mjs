// The burst side of bench/login-burst.ts, in a process of its own: the steady query's client
// must not share an event loop with 200 requests it would then wait behind itself. Reads one
// job a line on stdin ({ base, requests: [{ query, variables, headers }] }), sends every
// request at once on as many new connections (each job opens its own, as a burst of new
// clients would, and closes them after), and writes one line of JSON results to stdout:
// [{ ms, end, data?, errors? }], `end` counted from when the job was read.
//
// Before it reads a job it warms itself up: two bursts of as many requests against an HTTP
// server of its own, in this process, and writes `ready`. Real clients run on machines of their
// own; this one shares the server's two cores, and a cold client (its HTTP client code run for
// the first time, before V8 has compiled it) would take CPU from the server in the very half
// second the bench measures, and charge it to the server.
import { createServer } from 'node:http';
import { setImmediate } from 'node:timers';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';

async function burst(base, requests) {
  const dispatcher = new Agent({ connections: requests.length });
  const start = performance.now();
  const results = await Promise.all(
    requests.map(async ({ query, variables, headers }) => {
      const sent = performance.now();
      const res = await request(`${base}/graphql`, {
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
  // Closed after the answer is written (a graceful close waits on the server's side).
  setImmediate(() => void dispatcher.close());
  return results;
}

async function warmUp() {
  const answer = JSON.stringify({ errors: [{ message: 'warm-up', extensions: { code: 'X' } }] });
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(answer);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const requests = Array.from({ length: 200 }, (_, i) => ({
    query: 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }',
    variables: { i: { email: `warm-${i}@example.com`, password: 'warm-up-password' } },
    headers: { 'x-forwarded-for': `10.4.0.${1 + (i % 10)}` },
  }));
  for (let round = 0; round < 3; round += 1) await burst(base, requests);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

await warmUp();
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const job = JSON.parse(line);
  process.stdout.write(`${JSON.stringify(await burst(job.base, job.requests))}\n`);
}
