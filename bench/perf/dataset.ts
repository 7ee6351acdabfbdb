/* eslint-disable no-console */
import 'reflect-metadata';
import { MikroORM } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { migrate } from '../../src/db/migrate';
import { ormOptions } from '../../src/db/orm-options';

/**
 * The performance bench's data, the shape of issue 9: `scale` 1 is 10k users, 1M tasks with
 * skewed owners (a few users own many), 2M usage records over 90 days, 20 tools. Smaller scales
 * divide every count. Built once per scale into its own database (`switchboard_perf_<scale>`)
 * and reused while its marker says it is complete.
 */
export interface Dataset {
  url: string;
  users: number;
  tasks: number;
  usage: number;
}

/** bcrypt (cost 10) of "bench-password-123", prehashed as the server stores it. */
export const BENCH_PASSWORD = 'bench-password-123';

export async function ensureDataset(baseUrl: string, scale: number): Promise<Dataset> {
  const users = Math.max(100, Math.round(10_000 * scale));
  const tasks = Math.round(1_000_000 * scale);
  const usage = Math.round(2_000_000 * scale);
  const name = `switchboard_perf_${String(scale).replace('.', '_')}`;
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const dataset = { url: url.toString(), users, tasks, usage };

  const admin = new Client({ connectionString: baseUrl });
  await admin.connect();
  const exists = (await admin.query('select 1 from pg_database where datname = $1', [name]))
    .rowCount;
  if (exists) {
    const db = new Client({ connectionString: dataset.url });
    await db.connect();
    const done = await db
      .query(`select 1 from bench_marker where users = $1 and tasks = $2`, [users, tasks])
      .then((r) => r.rowCount === 1)
      .catch(() => false);
    await db.end();
    if (done) {
      await admin.end();
      console.log(
        `dataset ${name}: reusing (${users} users, ${tasks} tasks, ${usage} usage records)`,
      );
      return dataset;
    }
    await admin.query(`drop database ${name} with (force)`);
  }
  await admin.query(`create database ${name}`);
  await admin.end();

  console.log(
    `dataset ${name}: building ${users} users, ${tasks} tasks, ${usage} usage records...`,
  );
  const started = Date.now();
  const orm = await MikroORM.init(
    ormOptions(dataset.url, { poolMax: 2, connectTimeoutMs: 10_000 }),
  );
  await migrate(orm);
  await orm.close(true);

  const { PasswordHasher } = await import('../../src/auth/passwords');
  const hasher = new PasswordHasher({ cost: 10, workers: 1, maxQueue: 10 });
  const hash = await hasher.hash(BENCH_PASSWORD);
  await hasher.close();

  const db = new Client({ connectionString: dataset.url });
  await db.connect();
  const run = async (label: string, sql: string, params: unknown[] = []) => {
    const t = Date.now();
    await db.query(sql, params);
    console.log(`  ${label} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  };
  await run(
    'plans',
    `insert into plans (tier, name, monthly_token_quota, requests_per_minute, rank)
    values ('FREE','Free',10000,10,0),('PRO','Pro',1000000,120,1),('ENTERPRISE','Enterprise',null,1200,2)
    on conflict do nothing`,
  );
  await run(
    'users',
    `insert into users (id, email, name, password_hash, role, is_active, created_at, updated_at)
     select md5('user' || i)::uuid, 'user' || i || '@bench.local', 'Bench User ' || i, $1,
            case when i <= 5 then 'ADMIN'::user_role else 'USER'::user_role end, true,
            now() - (i || ' minutes')::interval, now()
       from generate_series(1, $2::int) as i`,
    [hash, users],
  );
  // Every user on ENTERPRISE: the plan's request rate never binds the load.
  await run(
    'subscriptions',
    `insert into subscriptions (id, user_id, tier, period_start, tokens_used, tokens_reserved, created_at, updated_at)
     select md5('sub' || i)::uuid, md5('user' || i)::uuid, 'ENTERPRISE', date_trunc('month', now() at time zone 'utc') at time zone 'utc', 0, 0, now(), now()
       from generate_series(1, $1::int) as i`,
    [users],
  );
  await run(
    'tools',
    `insert into tools (id, slug, name, description, category, required_tier, input_schema, max_output_tokens, endpoint_url, is_active, created_at, updated_at)
     select md5('tool' || i)::uuid, 'bench-tool-' || i, 'Bench tool ' || i, 'A tool of the bench', 'bench',
            'FREE', '{"type":"object"}'::jsonb, 500, 'http://127.0.0.1:9/tool/' || i, true, now(), now()
       from generate_series(1, 17) as i
     on conflict do nothing`,
  );
  // Skewed owners: user k gets tasks in proportion to 1/k (a few very busy users, a long tail).
  await run(
    'tasks',
    `insert into tasks (id, owner_id, title, description, status, priority, due_date, completed_at, created_at, updated_at)
     select gen_random_uuid(),
            md5('user' || (1 + floor(power(random(), 3) * $2::int))::int)::uuid,
            'Task ' || i, case when i % 3 = 0 then 'Details of task ' || i end,
            (array['TODO','IN_PROGRESS','DONE'])[1 + i % 3]::task_status,
            (array['LOW','MEDIUM','HIGH','URGENT'])[1 + i % 4]::task_priority,
            case when i % 2 = 0 then now() + ((i % 60) || ' days')::interval end,
            case when i % 3 = 2 then now() - ((i % 90) || ' days')::interval end,
            now() - (random() * interval '90 days'), now()
       from generate_series(1, $1::int) as i`,
    [tasks, users],
  );
  await run(
    'usage records',
    `insert into usage_records (id, user_id, tool_id, input_tokens, output_tokens, total_tokens, status, latency_ms, created_at)
     select gen_random_uuid(),
            md5('user' || (1 + floor(power(random(), 2) * $2::int))::int)::uuid,
            t.ids[1 + (i % array_length(t.ids, 1))],
            10 + i % 90, 20 + i % 400, 30 + i % 90 + i % 400, 'SUCCEEDED', 5 + i % 200,
            now() - (random() * interval '90 days')
       from generate_series(1, $1::int) as i,
            (select array_agg(id order by slug) as ids from tools) as t`,
    [usage, users],
  );
  await run('analyze', 'vacuum analyze');
  await db.query('create table bench_marker (users int, tasks int)');
  await db.query('insert into bench_marker values ($1, $2)', [users, tasks]);
  await db.end();
  console.log(`dataset ${name}: built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return dataset;
}
