const DAY_MS = 86_400_000;

/**
 * The pieces of `[from, to)` that usageTotalsSql reads: the records of the partial day at its
 * start (`[from, headEnd)`), the whole UTC days `[firstDay, lastDay)` from `usage_daily`, and
 * the records of the partial day at its end (`[tailStart, to)`). An empty range reads nothing.
 */
export interface UsageWindow {
  from: Date;
  headEnd: Date;
  /** `YYYY-MM-DD`, UTC. */
  firstDay: string;
  lastDay: string;
  tailStart: Date;
  to: Date;
}

export function usageWindow(from: Date, to: Date): UsageWindow {
  const fromMs = from.getTime();
  const toMs = Math.max(to.getTime(), fromMs);
  // The first midnight at or after `from`; the last midnight at or before `to`.
  const firstWhole = Math.ceil(fromMs / DAY_MS) * DAY_MS;
  const lastWhole = Math.max(Math.floor(toMs / DAY_MS) * DAY_MS, firstWhole);
  const headEnd = Math.min(toMs, firstWhole);
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  return {
    from,
    headEnd: new Date(headEnd),
    firstDay: day(firstWhole),
    lastDay: day(lastWhole),
    tailStart: new Date(Math.max(lastWhole, headEnd)),
    to: new Date(toMs),
  };
}

/** The window's pieces in the order usageTotalsSql and the usage functions take them. */
export function usageWindowParams(w: UsageWindow): unknown[] {
  return [w.from, w.headEnd, w.firstDay, w.lastDay, w.tailStart, w.to];
}

/**
 * One user's calls and tokens in `[from, to)` as a subquery (a lateral join's body) with `?`
 * placeholders: whole UTC days from `usage_daily` (kept by triggers, see migration
 * 20261201040000), the partial days at either edge from `usage_records`. A 30-day range reads
 * about 30 day rows and two edge days of records instead of a month of records; the result is
 * the same sum to the row.
 *
 * `userIdSql` names the user's id in the enclosing statement (`t.id`, `u.id`).
 */
export function usageTotalsSql(
  userIdSql: string,
  from: Date,
  to: Date,
): {
  sql: string;
  params: unknown[];
} {
  const w = usageWindow(from, to);
  return {
    sql: `select coalesce(sum(p.calls), 0) as calls, coalesce(sum(p.tokens), 0) as tokens from (
        select count(*) as calls, sum(r.total_tokens) as tokens from usage_records r
         where r.user_id = ${userIdSql} and r.created_at >= ? and r.created_at < ?
        union all
        select sum(d.calls), sum(d.tokens) from usage_daily d
         where d.user_id = ${userIdSql} and d.day >= ?::date and d.day < ?::date
        union all
        select count(*), sum(r.total_tokens) from usage_records r
         where r.user_id = ${userIdSql} and r.created_at >= ? and r.created_at < ?) p`,
    params: usageWindowParams(w),
  };
}
