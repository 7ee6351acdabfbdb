/* eslint-disable no-console */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import autocannon from 'autocannon';

/**
 * The load generator, run as its own process by bench/perf/run.ts so that it never shares a
 * Node process (or its event loop) with a server: closed-loop HTTP load, each request taking the
 * next body and headers of a list (many users, not one), after a warm-up whose answers are
 * thrown away. Two generators:
 * - `wrk` (Debian's, written in C; the requests pre-formatted by a Lua script once per thread),
 *   which costs the shared machine about a quarter of what autocannon does a request, so that
 *   the servers get the CPU the load generator does not need;
 * - `autocannon` (Node), the percentiles from every response time.
 * Prints one JSON line: requests, requests per second, latency percentiles, errors (socket
 * errors, timeouts, answers other than 200 and answers whose body holds the error marker) and
 * the CPU the generator itself used a request.
 */
interface Job {
  url: string;
  connections: number;
  seconds: number;
  warmup: number;
  generator?: 'wrk' | 'autocannon';
  requests: { headers: Record<string, string>; body: string }[];
  /** Answers whose body contains this are errors (GraphQL errors under HTTP 200). */
  errorMarker?: string;
}

interface Measured {
  requests: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
}

/** The line this process prints (bench/perf/run.ts reads it). */
export interface LoadResult extends Measured {
  /** The generator's own CPU (this process and wrk) a request. */
  loadCpuMsPerRequest: number;
}

const jobFile = process.argv[2]!;
const job = JSON.parse(readFileSync(jobFile, 'utf8')) as Job;

/** CPU milliseconds this process and the children it has waited for have used. */
function cpuMs(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  // utime, stime, cutime, cstime (fields 14-17 of proc(5)), in clock ticks of 10 ms.
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
}

function runAutocannon(seconds: number): Promise<Measured> {
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
      (err, result) => {
        if (err) return reject(err);
        times.sort((a, b) => a - b);
        resolve({
          requests: result.requests.total,
          rps: result.requests.total / seconds,
          p50: percentile(times, 50),
          p95: percentile(times, 95),
          p99: percentile(times, 99),
          errors: result.errors + result.timeouts + bad,
        });
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => times.push(responseTime));
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A Lua string literal of any text: printable ASCII as is, every other byte as `\ddd`. */
function luaString(text: string): string {
  let out = '"';
  for (const byte of Buffer.from(text, 'utf8')) {
    if (byte === 0x22 || byte === 0x5c) out += `\\${String.fromCharCode(byte)}`;
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    // Three digits always: Lua reads up to three, so a tab written `\9` before a digit would take the digit in.
    else out += `\\${String(byte).padStart(3, '0')}`;
  }
  return `${out}"`;
}

/**
 * wrk's script: every thread formats the request list once (`init`), hands out the next one
 * for each request, and counts bad answers; `done` adds up the threads' counts and prints the
 * figures as one JSON line (latency in ms; wrk records it in µs from its own HDR histogram).
 */
function wrkScript(): string {
  const list = job.requests
    .map((r) => {
      const headers = Object.entries(r.headers)
        .map(([k, v]) => `[${luaString(k)}] = ${luaString(v)}`)
        .join(', ');
      return `  { headers = { ${headers} }, body = ${luaString(r.body)} },`;
    })
    .join('\n');
  const marker = job.errorMarker ? luaString(job.errorMarker) : 'nil';
  return `local raw = {
${list}
}
local marker = ${marker}
local threads = {}
local count = 0
function setup(thread)
  thread:set("tid", count)
  count = count + 1
  table.insert(threads, thread)
end
local formatted, n, i
function init(args)
  formatted = {}
  for k, r in ipairs(raw) do formatted[k] = wrk.format("POST", nil, r.headers, r.body) end
  n = #formatted
  i = (tid * 37) % n
  bad = 0
end
function request()
  i = i % n + 1
  return formatted[i]
end
function response(status, headers, body)
  if status ~= 200 or (marker and string.find(body, marker, 1, true)) then bad = bad + 1 end
end
function done(s, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + (t:get("bad") or 0) end
  local e = s.errors
  io.write(string.format('{"requests":%d,"us":%d,"p50":%.3f,"p95":%.3f,"p99":%.3f,"errors":%d}\\n',
    s.requests, s.duration, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, b + e.connect + e.read + e.write + e.timeout))
end
`;
}

function runWrk(seconds: number): Measured {
  const script = `${jobFile}.lua`;
  writeFileSync(script, wrkScript());
  // One thread: it keeps up with any of these servers, and leaves them the other core.
  const threads = 1;
  const out = spawnSync(
    'wrk',
    [
      '-t',
      String(threads),
      '-c',
      String(job.connections),
      '-d',
      `${seconds}s`,
      '--timeout',
      '30s',
      '-s',
      script,
      job.url,
    ],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  if (out.status !== 0) throw new Error(`wrk failed (${out.status}): ${out.stderr}${out.stdout}`);
  const line = out.stdout.split('\n').find((l) => l.startsWith('{"requests"'));
  if (!line) throw new Error(`wrk printed no figures: ${out.stdout}`);
  const r = JSON.parse(line) as Omit<Measured, 'rps'> & { us: number };
  return {
    requests: r.requests,
    rps: r.requests / (r.us / 1e6),
    p50: r.p50,
    p95: r.p95,
    p99: r.p99,
    errors: r.errors,
  };
}

async function main() {
  const run = (seconds: number) =>
    job.generator === 'wrk' ? Promise.resolve(runWrk(seconds)) : runAutocannon(seconds);
  if (job.warmup > 0) await run(job.warmup);
  const cpu0 = cpuMs();
  const m = await run(job.seconds);
  const cpu = cpuMs() - cpu0;
  const result: LoadResult = { ...m, loadCpuMsPerRequest: cpu / Math.max(1, m.requests) };
  console.log(JSON.stringify(result));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
