import { Migration } from '@mikro-orm/migrations';

/**
 * Aggregates kept as rows change, so that lists of users (the admin's users page) read a count
 * and a sum per user instead of scanning every task and every call of each one:
 *
 * - `task_counts`: each owner's number of tasks, kept by statement-level triggers on `tasks`
 *   (insert, delete, truncate). A task never changes owner: a trigger refuses that, so the
 *   counts cannot drift through an update.
 * - `usage_daily`: each user's calls and tokens per UTC day, kept by statement-level triggers
 *   on `usage_records` (insert, delete, truncate; a record's user, time and tokens never
 *   change: a trigger refuses that). A range of usage sums whole days here and reads only its
 *   two edge days from `usage_records`.
 *
 * The triggers run inside the writing statement's transaction: a count or a sum is exactly the
 * rows committed. Each statement locks the aggregate rows it changes in key order, so one
 * statement never deadlocks another; but the locks last until commit, so a transaction that
 * writes for several owners in separate statements can deadlock with one that writes for the
 * same owners in another order (tasks and usage records of one user likewise). The API writes
 * for one owner per transaction, tasks before usage records; anything writing in bulk should
 * do it in one statement. One user's concurrent writes queue on that user's row for the rest
 * of their transaction (short: a task write, a metered call).
 *
 * A user's id never changes (the triggers refuse moving rows between users), and a data-only
 * restore must run with triggers disabled (pg_restore --disable-triggers) or it counts the
 * restored rows twice; a logical-replication subscriber does not fire triggers and copies the
 * aggregate tables as they are.
 *
 * The backfill reads every task and usage record once, under this migration's lock: about
 * 2 s for 1M tasks and 2M records on the 2-core bench machine. On a larger database, run the
 * migration in a quiet window (`npm run migrate` with MIGRATE_ON_START=false).
 */
export class Migration20261201040000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "task_counts" (
      "owner_id" uuid not null primary key references "users" ("id") on delete cascade,
      "count" bigint not null default 0 check ("count" >= 0)
    );`);
    this.addSql(`create table "usage_daily" (
      "user_id" uuid not null references "users" ("id") on delete cascade,
      "day" date not null,
      "calls" bigint not null default 0 check ("calls" >= 0),
      "tokens" bigint not null default 0 check ("tokens" >= 0),
      primary key ("user_id", "day")
    );`);

    this.addSql(`create function "task_counts_inserted"() returns trigger language plpgsql as $$
      begin
        insert into task_counts as c (owner_id, count)
        select owner_id, count(*) from inserted group by owner_id order by owner_id
        on conflict (owner_id) do update set count = c.count + excluded.count;
        return null;
      end $$;`);
    this.addSql(`create function "task_counts_deleted"() returns trigger language plpgsql as $$
      begin
        perform 1 from task_counts
          where owner_id in (select owner_id from deleted) order by owner_id for update;
        update task_counts c set count = c.count - d.n
          from (select owner_id, count(*) as n from deleted group by owner_id) d
         where c.owner_id = d.owner_id;
        return null;
      end $$;`);
    this.addSql(`create function "task_counts_truncated"() returns trigger language plpgsql as $$
      begin
        delete from task_counts;
        return null;
      end $$;`);
    this.addSql(`create function "tasks_owner_fixed"() returns trigger language plpgsql as $$
      begin
        raise exception 'a task never changes owner' using errcode = 'check_violation';
      end $$;`);
    this.addSql(`create trigger "tasks_counted_insert" after insert on "tasks"
      referencing new table as inserted for each statement
      execute function task_counts_inserted();`);
    this.addSql(`create trigger "tasks_counted_delete" after delete on "tasks"
      referencing old table as deleted for each statement
      execute function task_counts_deleted();`);
    this.addSql(`create trigger "tasks_counted_truncate" after truncate on "tasks"
      for each statement execute function task_counts_truncated();`);
    this.addSql(`create trigger "tasks_owner_fixed" before update of "owner_id" on "tasks"
      for each row when (old.owner_id is distinct from new.owner_id)
      execute function tasks_owner_fixed();`);

    this.addSql(`create function "usage_daily_inserted"() returns trigger language plpgsql as $$
      begin
        insert into usage_daily as d (user_id, day, calls, tokens)
        select user_id, (created_at at time zone 'UTC')::date, count(*), coalesce(sum(total_tokens), 0)
          from inserted group by 1, 2 order by 1, 2
        on conflict (user_id, day) do update
          set calls = d.calls + excluded.calls, tokens = d.tokens + excluded.tokens;
        return null;
      end $$;`);
    this.addSql(`create function "usage_daily_truncated"() returns trigger language plpgsql as $$
      begin
        delete from usage_daily;
        return null;
      end $$;`);
    this.addSql(`create function "usage_daily_deleted"() returns trigger language plpgsql as $$
      begin
        perform 1 from usage_daily
          where (user_id, day) in (select user_id, (created_at at time zone 'UTC')::date from deleted)
          order by user_id, day for update;
        update usage_daily d set calls = d.calls - x.calls, tokens = d.tokens - x.tokens
          from (select user_id, (created_at at time zone 'UTC')::date as day,
                       count(*) as calls, coalesce(sum(total_tokens), 0) as tokens
                  from deleted group by 1, 2) x
         where d.user_id = x.user_id and d.day = x.day;
        return null;
      end $$;`);
    this.addSql(`create function "usage_records_fixed"() returns trigger language plpgsql as $$
      begin
        raise exception 'a usage record''s user, time and tokens never change' using errcode = 'check_violation';
      end $$;`);
    this.addSql(`create trigger "usage_records_summed_insert" after insert on "usage_records"
      referencing new table as inserted for each statement
      execute function usage_daily_inserted();`);
    this.addSql(`create trigger "usage_records_summed_delete" after delete on "usage_records"
      referencing old table as deleted for each statement
      execute function usage_daily_deleted();`);
    this.addSql(`create trigger "usage_records_summed_truncate" after truncate on "usage_records"
      for each statement execute function usage_daily_truncated();`);
    // A record whose user, time or tokens changed would leave two days' sums wrong: records
    // are history (a deleted one is subtracted; a user's removal cascades to both tables).
    this.addSql(`create trigger "usage_records_fixed"
      before update of "user_id", "created_at", "total_tokens" on "usage_records"
      for each row when (old.user_id is distinct from new.user_id
                      or old.created_at is distinct from new.created_at
                      or old.total_tokens is distinct from new.total_tokens)
      execute function usage_records_fixed();`);

    this.addSql(`insert into task_counts (owner_id, count)
      select owner_id, count(*) from tasks group by owner_id;`);
    this.addSql(`insert into usage_daily (user_id, day, calls, tokens)
      select user_id, (created_at at time zone 'UTC')::date, count(*), coalesce(sum(total_tokens), 0)
        from usage_records group by 1, 2;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists "usage_records_fixed" on "usage_records";`);
    this.addSql(`drop trigger if exists "usage_records_summed_truncate" on "usage_records";`);
    this.addSql(`drop trigger if exists "usage_records_summed_delete" on "usage_records";`);
    this.addSql(`drop trigger if exists "usage_records_summed_insert" on "usage_records";`);
    this.addSql(`drop trigger if exists "tasks_owner_fixed" on "tasks";`);
    this.addSql(`drop trigger if exists "tasks_counted_truncate" on "tasks";`);
    this.addSql(`drop trigger if exists "tasks_counted_delete" on "tasks";`);
    this.addSql(`drop trigger if exists "tasks_counted_insert" on "tasks";`);
    this.addSql(`drop function if exists "usage_records_fixed"();`);
    this.addSql(`drop function if exists "usage_daily_deleted"();`);
    this.addSql(`drop function if exists "usage_daily_truncated"();`);
    this.addSql(`drop function if exists "usage_daily_inserted"();`);
    this.addSql(`drop function if exists "tasks_owner_fixed"();`);
    this.addSql(`drop function if exists "task_counts_truncated"();`);
    this.addSql(`drop function if exists "task_counts_deleted"();`);
    this.addSql(`drop function if exists "task_counts_inserted"();`);
    this.addSql(`drop table if exists "usage_daily";`);
    this.addSql(`drop table if exists "task_counts";`);
  }
}
