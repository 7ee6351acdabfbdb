/* eslint-disable no-console */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

/**
 * The load generator, run as its own process by bench/perf/run.ts so that it never shares a
 * Node process (or its event loop) with a server: closed-loop HTTP load with autocannon, each
 * request taking the next body and headers of a list (many users, not one), after a warm-up
 * whose answers are thrown away. Prints one JSON line: requests per second, exact latency
 * percentiles (from every response time, not autocannon's histogram summary), errors.
 */
interface Job {
  url: string;
  connections: number;
  seconds: number;
  warmup: number;
  requests: { headers: Record<string, string>; body: string }[];
  /** Answers whose body contains this are errors (GraphQL errors under HTTP 200). */
  errorMarker?: string;
}

const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Job;

function run(
  seconds: number,
): Promise<{ result: autocannon.Result; times: number[]; bad: number }> {
  let next = 0;
  const times: number[] = [];
  let bad = 0;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: job.url,
        connections: job.connections,
        duration: seconds,
        method: 'POST',
        timeout: 30,
        requests: [
          {
            setupRequest: (req) => {
              const r = job.requests[next++ % job.requests.length]!;
              return { ...req, method: 'POST', headers: r.headers, body: r.body };
            },
            onResponse: (status, body) => {
              if (status !== 200 || (job.errorMarker && body.includes(job.errorMarker))) bad += 1;
            },
          },
        ],
      },
      (err, result) => (err ? reject(err) : resolve({ result, times, bad })),
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => times.push(responseTime));
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main() {
  if (job.warmup > 0) await run(job.warmup);
  const { result, times, bad } = await run(job.seconds);
  times.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      requests: result.requests.total,
      rps: result.requests.total / job.seconds,
      p50: percentile(times, 50),
      p95: percentile(times, 95),
      p99: percentile(times, 99),
      errors: result.errors + result.timeouts + bad,
      non2xx: result.non2xx,
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
