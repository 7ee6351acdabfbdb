import { Migration } from '@mikro-orm/migrations';

/**
 * `usage_totals`: each user's calls and tokens in a range (a usage summary's `calls` and
 * `totalTokens`, batched over the users of a request), exactly as entities/usage-sums.ts
 * `usageTotalsSql` reads them (whole days from `usage_daily`, the partial days at either edge
 * from the records; `usageWindow` cuts the range), as a PL/pgSQL function with its generic plan
 * kept per connection (migration 20261202010000 says why). Sent as text, parse and plan were
 * most of the statement: on the bench data, 30 days, pgbench, one client, 0.39-0.50 ms a call
 * as text, 0.09-0.16 ms through the function, for a median user and the busiest. Every
 * user asked for gets a row (zeros when there are no calls). Creating it takes no lock on any
 * table.
 */
export class Migration20261202030000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create function "usage_totals"(
        p_user_ids uuid[], p_from timestamptz, p_head_end timestamptz, p_first_day date,
        p_last_day date, p_tail_start timestamptz, p_to timestamptz)
      returns table (user_id uuid, calls numeric, tokens numeric)
      language plpgsql stable
      set plan_cache_mode = force_generic_plan
    as $$
    #variable_conflict use_column
    begin
      return query
        select u.id, s.calls, s.tokens
          from unnest(p_user_ids) as u(id)
          cross join lateral (
            select coalesce(sum(p.calls), 0) as calls, coalesce(sum(p.tokens), 0) as tokens from (
                select count(*) as calls, sum(r.total_tokens) as tokens from usage_records r
                 where r.user_id = u.id and r.created_at >= p_from and r.created_at < p_head_end
                union all
                select sum(d.calls), sum(d.tokens) from usage_daily d
                 where d.user_id = u.id and d.day >= p_first_day and d.day < p_last_day
                union all
                select count(*), sum(r.total_tokens) from usage_records r
                 where r.user_id = u.id and r.created_at >= p_tail_start and r.created_at < p_to
              ) p
          ) s;
    end $$;`);
  }

  override async down(): Promise<void> {
    this.addSql(
      `drop function if exists "usage_totals"(uuid[], timestamptz, timestamptz, date, date, timestamptz, timestamptz);`,
    );
  }
}
