import { Migration } from '@mikro-orm/migrations';

/**
 * `session_account`: the session check every request with an access token makes up front
 * (users.activeBySession: the account of a live session, if the account is active), as a
 * PL/pgSQL function, for the reason migration 20261201120000 gives: PostgreSQL keeps its plan
 * per server connection, so the check is planned once per connection instead of once per
 * request, through PgBouncer in transaction mode too. Creating it takes no lock on any table.
 */
export class Migration20261201130000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create function "session_account"(p_session_id uuid, p_user_id uuid)
      returns table (
        id uuid, email text, name text, role user_role,
        is_active boolean, created_at timestamptz, updated_at timestamptz)
      language plpgsql stable
    as $$
    #variable_conflict use_column
    begin
      return query
        select u.id, u.email, u.name, u.role, u.is_active, u.created_at, u.updated_at
          from users u
          join auth_sessions s on s.user_id = u.id and s.id = p_session_id and s.revoked_at is null
         where u.id = p_user_id and u.is_active;
    end $$;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function if exists "session_account"(uuid, uuid);`);
  }
}
