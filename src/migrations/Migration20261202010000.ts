import { Migration } from '@mikro-orm/migrations';

/** The page, rows after the cursor when `after` is given. */
function pageQuery(after: string): string {
  return `
        return query
          select t.id, t.email, t.name, t.role, t.is_active, t.created_at, t.updated_at,
                 (t.created_at)::text,
                 case when p_task_counts
                      then coalesce((select c.count from task_counts c where c.owner_id = t.id), 0)
                 end,
                 case when p_usage then us.calls end,
                 case when p_usage then us.tokens end
            from users t
            left join lateral (
              select coalesce(sum(p.calls), 0) as calls, coalesce(sum(p.tokens), 0) as tokens from (
                select count(*) as calls, sum(r.total_tokens) as tokens from usage_records r
                 where p_usage and r.user_id = t.id
                   and r.created_at >= p_from and r.created_at < p_head_end
                union all
                select sum(d.calls), sum(d.tokens) from usage_daily d
                 where p_usage and d.user_id = t.id
                   and d.day >= p_first_day and d.day < p_last_day
                union all
                select count(*), sum(r.total_tokens) from usage_records r
                 where p_usage and r.user_id = t.id
                   and r.created_at >= p_tail_start and r.created_at < p_to) p
            ) us on true${after}
           order by t.created_at desc, t.id desc
           limit p_limit;`;
}

/**
 * `users_page`: the admin's list of users as it is read unfiltered (newest first), with each
 * user's task count and usage totals in a window when asked, as a PL/pgSQL function. It answers
 * exactly what the same statement sent as text answers (entities/user.repository.ts `page`,
 * usage-sums.ts for the window's pieces), but PostgreSQL keeps a PL/pgSQL function's plans for
 * the life of the connection, where the text, a lateral join over three aggregates, is parsed
 * and planned for every request. Named prepared statements would do the same but cannot pass
 * PgBouncer in transaction mode.
 *
 * The plan kept is the generic one (`plan_cache_mode`, for the function's own statements
 * only): left to choose, PostgreSQL kept planning this statement for each call's values, which
 * saved nothing. On the bench data (51 users, both aggregates, pgbench, one client): 1.66-1.67
 * ms a call as text, 0.99-1.01 ms through the function.
 *
 * An aggregate not asked for is not computed: the task count is a subquery under a CASE, and
 * the usage branches are gated by `p_usage` (a one-time filter in the plan, which skips their
 * index scans), so neither costs more than a test when it is off. Creating it takes no lock on
 * any table.
 */
export class Migration20261202010000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create function "users_page"(
        p_limit integer, p_after_key timestamptz, p_after_id uuid, p_task_counts boolean,
        p_usage boolean, p_from timestamptz, p_head_end timestamptz, p_first_day date,
        p_last_day date, p_tail_start timestamptz, p_to timestamptz)
      returns table (
        id uuid, email text, name text, role user_role, is_active boolean,
        created_at timestamptz, updated_at timestamptz, sort_key text,
        ahead_tasks bigint, ahead_calls numeric, ahead_tokens numeric)
      language plpgsql stable
      set plan_cache_mode = force_generic_plan
    as $$
    #variable_conflict use_column
    begin
      if p_after_key is null then${pageQuery('')}
      else${pageQuery('\n           where (t.created_at, t.id) < (p_after_key, p_after_id)')}
      end if;
    end $$;`);
  }

  override async down(): Promise<void> {
    this.addSql(
      `drop function if exists "users_page"(integer, timestamptz, uuid, boolean, boolean, timestamptz, timestamptz, date, date, timestamptz, timestamptz);`,
    );
  }
}
