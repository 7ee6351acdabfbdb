import { Migration } from '@mikro-orm/migrations';

/**
 * `api_key_account`: the credential check of a request with an API key (apiKeys.activeByPrefix:
 * the unrevoked key with that prefix, if its owner is active, with the owner), as a PL/pgSQL
 * function, as `session_account` (migration 20261201130000) is for an access token: its plan is
 * kept per server connection, and the calls of concurrent requests can go to the database as
 * one statement (db/coalesce.ts), since a prefix names at most one key. Creating it takes no
 * lock on any table.
 */
export class Migration20261202040000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create function "api_key_account"(p_prefix text)
      returns table (
        key_id uuid, secret_hash text, scopes text[], expires_at timestamptz,
        last_used_at timestamptz, id uuid, email text, name text, role user_role,
        is_active boolean, created_at timestamptz, updated_at timestamptz)
      language plpgsql stable
    as $$
    #variable_conflict use_column
    begin
      return query
        select k.id, k.secret_hash, k.scopes, k.expires_at, k.last_used_at,
               u.id, u.email, u.name, u.role, u.is_active, u.created_at, u.updated_at
          from api_keys k join users u on u.id = k.user_id
         where k.prefix = p_prefix and k.revoked_at is null and u.is_active;
    end $$;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop function if exists "api_key_account"(text);`);
  }
}
