import { Migration } from '@mikro-orm/migrations';

/**
 * `session_tasks_page`: the default tasks page (newest first, no filter) under the request's
 * session check, as a PL/pgSQL function. It answers exactly what the same statement sent as
 * text answers (db/keyset.ts keysetPageUnder over users.activeBySession's check: one row of
 * `head_` account columns and the page as a JSON array when the session is live and its
 * account active; no row otherwise), but PostgreSQL keeps a PL/pgSQL function's plans for the
 * life of the connection, so the page is parsed and planned once per connection instead of
 * once per request. That halves PostgreSQL's CPU for the page (0.57 -> 0.26 ms a call on the
 * bench data). Named prepared statements would do the same but cannot pass PgBouncer in
 * transaction mode; a function's plans live inside the server connection, whichever client
 * calls it. Creating it takes no lock on any table.
 */
export class Migration20261201120000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create function "session_tasks_page"(
        p_session_id uuid, p_user_id uuid, p_limit integer,
        p_after_key timestamptz, p_after_id uuid)
      returns table (
        head_id uuid, head_email text, head_name text, head_role user_role,
        head_is_active boolean, head_created_at timestamptz, head_updated_at timestamptz,
        page_rows text)
      language plpgsql stable
    as $$
    #variable_conflict use_column
    begin
      if p_after_key is null then
        return query
          select u.id, u.email, u.name, u.role, u.is_active, u.created_at, u.updated_at,
                 (select json_agg(p order by p.created_at desc, p.id desc)::text
                    from (select t.*, (t.created_at)::text as sort_key
                            from tasks t where t.owner_id = u.id
                           order by t.created_at desc, t.id desc limit p_limit) p)
            from users u
            join auth_sessions s on s.user_id = u.id and s.id = p_session_id and s.revoked_at is null
           where u.id = p_user_id and u.is_active;
      else
        return query
          select u.id, u.email, u.name, u.role, u.is_active, u.created_at, u.updated_at,
                 (select json_agg(p order by p.created_at desc, p.id desc)::text
                    from (select t.*, (t.created_at)::text as sort_key
                            from tasks t where t.owner_id = u.id
                             and (t.created_at, t.id) < (p_after_key, p_after_id)
                           order by t.created_at desc, t.id desc limit p_limit) p)
            from users u
            join auth_sessions s on s.user_id = u.id and s.id = p_session_id and s.revoked_at is null
           where u.id = p_user_id and u.is_active;
      end if;
    end $$;`);
  }

  override async down(): Promise<void> {
    this.addSql(
      `drop function if exists "session_tasks_page"(uuid, uuid, integer, timestamptz, uuid);`,
    );
  }
}
