/* eslint-disable no-console */
import 'reflect-metadata';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { getIntrospectionQuery, Lexer, parse, Source, TokenKind, validate } from 'graphql';
import { Client } from 'pg';
import { loadConfig } from '../src/config';
import { buildAppSchema } from '../src/schema/build-schema';
import { MAX_DOCUMENT_LENGTH, MAX_LINES, preValidationRefusal } from '../src/schema/query-limits';

/**
 * `npm run bench:hostile`: what hostile GraphQL documents cost the server, next to a benign
 * document of the same size, against the parse + validate time of the heaviest real operation
 * the tests send. The server runs as its own process in production mode with the default
 * limits (on DATABASE_URL's server, in a scratch database, or on its embedded PGlite); its CPU
 * is read from /proc/<pid>/stat around each run. Every request's document is made unique (a
 * trailing comment) so that no cache helps: the cost of an attacker who varies the document.
 * Each figure is the best of BENCH_ROUNDS runs (default 3) of BENCH_SECONDS each (default 1),
 * with BENCH_CONNECTIONS concurrent clients (default 4); BENCH_ONLY picks documents by name.
 * Target: no hostile document costs the server more than 3x the heaviest real operation's
 * parse + validate.
 */
const seconds = Number(process.env.BENCH_SECONDS ?? 1);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 4);
const TARGET = 3;
const SECRET = 'hostile-bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

const defaults = loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET });
const maxTokens = defaults.queryMaxTokens;

const repeat = (n: number, item: (i: number) => string, separator = ' ') =>
  Array.from({ length: n }, (_, i) => item(i)).join(separator);

function tokens(source: string): number {
  const lexer = new Lexer(new Source(source));
  let n = 0;
  try {
    while (lexer.advance().kind !== TokenKind.EOF) n += 1;
  } catch {
    return -1;
  }
  return n;
}

/** Fields of a task as the tests select them (test/tasks/task-fixtures.ts). */
const TASK_FIELDS = `id title description status priority dueDate completedAt createdAt updatedAt owner { id }`;

/** The real operations the tests send that cost validation the most. */
const REAL: Record<string, string> = {
  // test/tasks/task-fixtures.ts createTasks: 25 aliased mutations, one variable each.
  'createTasks batch (25)': `mutation(${repeat(25, (i) => `$i${i}: CreateTaskInput!`, ', ')}) { ${repeat(
    25,
    (i) => `t${i}: createTask(input: $i${i}) { ${TASK_FIELDS} }`,
    '\n',
  )} }`,
  // test/server/query-limits.test.ts
  dashboard: `{
    me { id name subscription { plan { tier monthlyTokenQuota } tokensUsed tokensRemaining }
         tasks(first: 20) { totalCount nodes { id title owner { id } } } }
    tasks(first: 100) { totalCount edges { cursor node { id title status priority } } pageInfo { hasNextPage } }
    tools(first: 20) { nodes { slug name requiredTier inputSchema } }
    myUsage { calls totalTokens byTool { tool { slug } calls } byDay { day calls } }
    usageRecords(first: 100) { totalCount nodes { id tool { slug } } }
    plans { tier }
  }`,
  // GraphiQL's and codegen's
  'standard introspection query': getIntrospectionQuery({
    descriptions: true,
    specifiedByUrl: true,
    directiveIsRepeatable: true,
    schemaDescription: true,
    inputValueDeprecation: true,
  }),
};

interface Hostile {
  name: string;
  query: string;
  operationName?: string;
  variables?: Record<string, unknown>;
}

/** The largest document `make(n)` that stays within the token limit. */
function fit(make: (n: number) => string): string {
  let low = 1;
  let high = 1;
  while (tokens(make(high * 2)) !== -1 && tokens(make(high * 2)) <= maxTokens) high *= 2;
  high *= 2;
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    const n = tokens(make(mid));
    if (n !== -1 && n <= maxTokens) low = mid;
    else high = mid;
  }
  return make(low);
}

/** Each sized at the token limit (or near the body limit), under the server's defaults. */
function hostileDocuments(): Hostile[] {
  let exponential = `query { me { ...F0 } }\n`;
  for (let i = 0; i < 40; i += 1) {
    exponential += `fragment F${i} on User { id ...F${i + 1} ...F${i + 1} }\n`;
  }
  exponential += `fragment F40 on User { id }`;
  const taskFragments = repeat(10, (i) => `fragment T${i} on Task { ${TASK_FIELDS} }`);
  return [
    {
      name: 'one named spread repeated',
      query: fit((n) => `{ ${'...F '.repeat(n)}} fragment F on Query { plans { tier } }`),
    },
    {
      name: 'distinct fragments, one field each',
      query: fit(
        (n) =>
          `{ ${repeat(n, (i) => `...F${i}`)} } ${repeat(n, (i) => `fragment F${i} on Query { plans { tier } }`)}`,
      ),
    },
    { name: 'fragments spreading each other (2^40)', query: exponential },
    {
      name: 'directive flood (@skip)',
      query: fit((n) => `{ plans { tier ${'@skip(if: false) '.repeat(n)}} }`),
    },
    {
      name: 'many-field fragments spread many times',
      query: fit(
        (n) =>
          `{ tasks(first: 1) { nodes { ${repeat(n, (i) => `...T${i % 10}`)} } } } ${taskFragments}`,
      ),
    },
    {
      name: 'many operations',
      query: fit((n) => repeat(n, (i) => `query Q${i} { me { id } }`)),
      operationName: 'Q0',
    },
    {
      name: 'many fragment definitions',
      query: fit(
        (n) =>
          `{ plans { tier } } ${repeat(n, (i) => `fragment F${i} on Query { plans { tier } }`)}`,
      ),
    },
    {
      name: 'huge string literal (200 KB)',
      query: `{ tasks(filter: { search: "${'x'.repeat(200_000)}" }) { totalCount } }`,
    },
    {
      name: 'long list literal',
      query: fit((n) => `{ tasks(filter: { status: [${'TODO '.repeat(n)}] }) { totalCount } }`),
    },
    {
      name: 'long variable list',
      query: fit((n) => `query(${repeat(n, (i) => `$v${i}: Int`)}) { plans { tier } }`),
    },
    {
      name: 'deep nesting',
      query: fit(
        (n) => `{ me { ${'tasks { nodes { owner { '.repeat(n)}id${' } } }'.repeat(n)} } }`,
      ),
    },
    {
      name: 'alias flood',
      query: fit((n) => `{ ${repeat(n, (i) => `a${i}: plans { tier }`)} }`),
    },
    { name: 'subscription operation', query: `subscription { plans { tier } }` },
    {
      name: 'nested repeats (20 x 5 x 1)',
      query: `{ ${repeat(20, () => `me { ${repeat(5, () => `tasks { nodes { id } }`)} }`)} }`,
    },
    {
      name: 'unknown fields (validation errors)',
      query: fit((n) => `{ ${repeat(n, (i) => `x${i}`)} }`),
    },
    {
      name: 'validation errors after 30,000 lines',
      query: `${'\n'.repeat(30_000)}{ ${repeat(110, (i) => `x${i}`)} }`,
    },
    {
      name: 'validation errors after 1,000 lines',
      query: `${'\n'.repeat(MAX_LINES)}{ ${repeat(110, (i) => `x${i}`)} }`,
    },
  ];
}

/**
 * The benign twin of a document: a public query padded with a comment to the same length, or,
 * past the longest document accepted, with the padding in a variable (as clients should send
 * large input): the same body size.
 */
function benignOfLength(length: number): Hostile {
  const query = '{ plans { tier name monthlyTokenQuota } }';
  const padding = 'x'.repeat(Math.max(0, length - query.length - 2));
  return length <= MAX_DOCUMENT_LENGTH
    ? { name: 'benign', query: `${query} #${padding}` }
    : { name: 'benign', query, variables: { padding } };
}

function bestOf(runs: number, fn: () => void, minMs = 200): number {
  let best = Infinity;
  for (let r = 0; r < runs; r += 1) {
    let n = 0;
    const started = performance.now();
    while (performance.now() - started < minMs) {
      fn();
      n += 1;
    }
    best = Math.min(best, (performance.now() - started) / n);
  }
  return best;
}

async function database(): Promise<{ env: Record<string, string>; stop: () => Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-hostile-'));
    return {
      env: { DATA_DIR: dir },
      stop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const name = 'switchboard_hostile_bench';
  const admin = async (sql: string) => {
    const client = new Client({ connectionString: base });
    await client.connect();
    await client.query(sql);
    await client.end();
  };
  await admin(`drop database if exists ${name} with (force)`);
  await admin(`create database ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    env: { DATABASE_URL: url.toString() },
    stop: () => admin(`drop database if exists ${name} with (force)`),
  };
}

interface Server {
  child: ChildProcess;
  url: string;
  /** Log lines above info (warn, error, fatal) seen so far. */
  loud: string[];
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, ['scripts/run-ts.mjs', 'src/main.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      JWT_SECRET: SECRET,
      ADMIN_PASSWORD: 'hostile-bench-admin',
      BCRYPT_COST: '10',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const loud: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: { level?: number; url?: string; msg?: string };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        return;
      }
      if ((entry.level ?? 0) > 30) loud.push(line);
      if (entry.msg === 'Switchboard is ready' && entry.url) resolve(entry.url);
    });
  });
  return { child, url, loud };
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

interface Answer {
  status: number;
  code: string;
}

async function send(url: string, doc: Hostile, unique: number): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: `${doc.query} #${unique}`,
      ...(doc.operationName ? { operationName: doc.operationName } : {}),
      ...(doc.variables ? { variables: doc.variables } : {}),
    }),
  });
  const body = (await res.json()) as {
    errors?: { extensions?: { code?: string; limit?: string } }[];
  };
  const error = body.errors?.[0]?.extensions;
  const code = error ? `${error.code}${error.limit ? ` (${error.limit})` : ''}` : 'data';
  return { status: res.status, code };
}

let counter = 0;

/** The server's CPU per request over one run of `seconds`, with `connections` concurrent clients. */
async function run(server: Server, doc: Hostile): Promise<number> {
  const pid = server.child.pid!;
  const before = cpuMs(pid);
  const until = performance.now() + seconds * 1000;
  let requests = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        await send(server.url, doc, (counter += 1));
        requests += 1;
      }
    }),
  );
  return ((cpuMs(pid) - before) * 1000) / requests;
}

/** The best of `rounds` runs, in µs per request: the machine is shared, interference only adds. */
async function measure(server: Server, doc: Hostile): Promise<{ us: number; answer: Answer }> {
  let answer = await send(server.url, doc, (counter += 1));
  for (let i = 0; i < 10; i += 1) answer = await send(server.url, doc, (counter += 1));
  let us = Infinity;
  for (let round = 0; round < rounds; round += 1) us = Math.min(us, await run(server, doc));
  return { us, answer };
}

async function main() {
  // The heaviest real operation's parse + validate, in process, on the app's schema.
  const schema = buildAppSchema();
  const parseAndValidate = (name: string, source: string) => () => {
    const errors = validate(schema, parse(source));
    if (errors.length > 0) throw new Error(`${name}: ${errors[0]!.message}`);
  };
  let heaviest = { name: '', source: '', ms: 0 };
  console.log('\nParse + validate of the real operations (best of 5):');
  for (const [name, source] of Object.entries(REAL)) {
    const ms = bestOf(5, parseAndValidate(name, source));
    console.log(
      `  ${name.padEnd(30)} ${String(tokens(source)).padStart(5)} tokens  ${(ms * 1000).toFixed(0).padStart(5)} µs`,
    );
    if (ms > heaviest.ms) heaviest = { name, source, ms };
  }
  // Measured again before each row: the machine is shared, and CPU time stretches with it.
  const budgetNow = () => bestOf(3, parseAndValidate(heaviest.name, heaviest.source), 100) * 1000;

  // The pre-check alone on a typical request: a known document (cache hit) and a new one.
  const limits = {
    maxTokens,
    maxDepth: defaults.queryMaxDepth,
    maxAliases: defaults.queryMaxAliases,
  };
  const typical = REAL.dashboard!;
  let unique = 0;
  const cached = bestOf(5, () => preValidationRefusal(typical, null, limits));
  const uncached = bestOf(5, () =>
    preValidationRefusal(`${typical} #${(unique += 1)}`, null, limits),
  );
  console.log(
    `\nPre-check on the dashboard query: ${(cached * 1000).toFixed(2)} µs known (cached), ${(uncached * 1000).toFixed(1)} µs new (parse + walk)`,
  );

  const db = await database();
  const server = await startServer(db.env);
  try {
    console.log(
      `\nServer CPU per request (best of ${rounds} runs of ${seconds} s, ${connections} connections, ${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'}, production, QUERY_MAX_TOKENS=${maxTokens}, QUERY_MAX_DEPTH=${limits.maxDepth}, QUERY_MAX_ALIASES=${limits.maxAliases});`,
    );
    console.log(
      `p+v: the parse + validate of ${heaviest.name}, measured before each row; ratio = CPU / p+v; target ≤ ${TARGET}x\n`,
    );
    const header = `${'document'.padEnd(40)} ${'bytes'.padStart(7)} ${'tokens'.padStart(6)}  ${'answer'.padEnd(34)} ${'p+v µs'.padStart(6)} ${'CPU µs'.padStart(7)} ${'ratio'.padStart(6)}   ${'benign µs'.padStart(9)} ${'ratio'.padStart(6)}`;
    console.log(header);
    console.log('-'.repeat(header.length));
    const row = (
      name: string,
      bytes: number,
      toks: number,
      answer: Answer,
      budget: number,
      us: number,
    ) =>
      `${name.padEnd(40)} ${String(bytes).padStart(7)} ${String(toks).padStart(6)}  ${`${answer.status} ${answer.code}`.padEnd(34)} ${budget.toFixed(0).padStart(6)} ${us.toFixed(0).padStart(7)} ${`${(us / budget).toFixed(2)}x`.padStart(6)}`;
    const reference = await measure(server, { name: 'typical', query: '{ plans { tier } }' });
    console.log(
      row('{ plans { tier } } (reference)', 18, 7, reference.answer, budgetNow(), reference.us),
    );
    let worst = 0;
    const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY, 'i') : null;
    for (const doc of hostileDocuments().filter((d) => !only || only.test(d.name))) {
      const budget = budgetNow();
      const hostile = await measure(server, doc);
      const benign = await measure(server, benignOfLength(doc.query.length));
      worst = Math.max(worst, hostile.us / budget);
      const mark = hostile.us / budget <= TARGET ? '' : '  over target';
      console.log(
        `${row(doc.name, doc.query.length, tokens(doc.query), hostile.answer, budget, hostile.us)}   ${benign.us.toFixed(0).padStart(9)} ${`${(benign.us / budget).toFixed(2)}x`.padStart(6)}${mark}`,
      );
    }
    console.log(`\nWorst hostile document: ${worst.toFixed(2)}x (target ≤ ${TARGET}x)`);
    console.log(`Server log lines above info: ${server.loud.length}`);
    for (const line of server.loud.slice(0, 5)) console.log(`  ${line.slice(0, 300)}`);
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));
    await db.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
