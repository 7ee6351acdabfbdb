import { Migration } from '@mikro-orm/migrations';

export class Migration20261122050617 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create type "plan_tier" as enum ('FREE', 'PRO', 'ENTERPRISE');`);
    this.addSql(`create type "user_role" as enum ('USER', 'ADMIN');`);
    this.addSql(`create type "task_status" as enum ('TODO', 'IN_PROGRESS', 'DONE');`);
    this.addSql(`create type "task_priority" as enum ('LOW', 'MEDIUM', 'HIGH', 'URGENT');`);
    this.addSql(`create type "usage_status" as enum ('SUCCEEDED', 'FAILED');`);
    this.addSql(
      `create table "plans" ("tier" "plan_tier" not null, "name" text not null, "monthly_token_quota" int null, "requests_per_minute" int not null, "rank" smallint not null, constraint "plans_pkey" primary key ("tier"));`,
    );

    this.addSql(
      `create table "tools" ("id" uuid not null, "slug" text not null, "name" text not null, "description" text not null, "category" text not null, "required_tier" "plan_tier" not null default 'FREE', "input_schema" jsonb not null, "max_output_tokens" int not null, "endpoint_url" text null, "is_active" boolean not null default true, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "tools_pkey" primary key ("id"));`,
    );
    this.addSql(`alter table "tools" add constraint "tools_slug_unique" unique ("slug");`);
    this.addSql(`create index "tools_active_slug_idx" on "tools" ("is_active", "slug");`);

    this.addSql(
      `create table "users" ("id" uuid not null, "email" text not null, "name" text not null, "password_hash" text not null, "role" "user_role" not null default 'USER', "is_active" boolean not null default true, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "users_pkey" primary key ("id"));`,
    );
    this.addSql(`alter table "users" add constraint "users_email_unique" unique ("email");`);

    this.addSql(
      `create table "tasks" ("id" uuid not null, "owner_id" uuid not null, "title" text not null, "description" text null, "status" "task_status" not null default 'TODO', "priority" "task_priority" not null default 'MEDIUM', "due_date" timestamptz null, "completed_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "tasks_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "tasks_created_idx" on "tasks" ("created_at", "id");`);
    this.addSql(
      `create index "tasks_owner_due_idx" on "tasks" ("owner_id", coalesce("due_date", 'infinity'::timestamptz), "id");`,
    );
    this.addSql(
      `create index "tasks_owner_priority_idx" on "tasks" ("owner_id", "priority", "id");`,
    );
    this.addSql(
      `create index "tasks_owner_updated_idx" on "tasks" ("owner_id", "updated_at", "id");`,
    );
    this.addSql(
      `create index "tasks_owner_created_idx" on "tasks" ("owner_id", "created_at", "id");`,
    );

    this.addSql(
      `create table "subscriptions" ("id" uuid not null, "user_id" uuid not null, "tier" "plan_tier" not null default 'FREE', "period_start" timestamptz not null, "tokens_used" bigint not null default 0, "tokens_reserved" bigint not null default 0, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "subscriptions_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "subscriptions" add constraint "subscriptions_user_id_unique" unique ("user_id");`,
    );

    this.addSql(
      `create table "auth_sessions" ("id" uuid not null, "user_id" uuid not null, "created_at" timestamptz not null, "revoked_at" timestamptz null, constraint "auth_sessions_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "auth_sessions_user_idx" on "auth_sessions" ("user_id");`);

    this.addSql(
      `create table "refresh_tokens" ("id" uuid not null, "session_id" uuid not null, "token_hash" text not null, "expires_at" timestamptz not null, "used_at" timestamptz null, "created_at" timestamptz not null, constraint "refresh_tokens_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "refresh_tokens" add constraint "refresh_tokens_token_hash_unique" unique ("token_hash");`,
    );
    this.addSql(`create index "refresh_tokens_session_idx" on "refresh_tokens" ("session_id");`);

    this.addSql(
      `create table "audit_entries" ("id" uuid not null, "actor_id" uuid null, "action" text not null, "target_type" text not null, "target_id" text null, "details" jsonb null, "created_at" timestamptz not null, constraint "audit_entries_pkey" primary key ("id"));`,
    );
    this.addSql(
      `create index "audit_entries_created_idx" on "audit_entries" ("created_at", "id");`,
    );

    this.addSql(
      `create table "api_keys" ("id" uuid not null, "user_id" uuid not null, "name" text not null, "prefix" text not null, "secret_hash" text not null, "scopes" text[] not null, "created_at" timestamptz not null, "last_used_at" timestamptz null, "expires_at" timestamptz null, "revoked_at" timestamptz null, constraint "api_keys_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "api_keys" add constraint "api_keys_prefix_unique" unique ("prefix");`,
    );
    this.addSql(`create index "api_keys_user_idx" on "api_keys" ("user_id", "created_at");`);

    this.addSql(
      `create table "usage_records" ("id" uuid not null, "user_id" uuid not null, "tool_id" uuid not null, "api_key_id" uuid null, "input_tokens" int not null default 0, "output_tokens" int not null default 0, "total_tokens" int not null default 0, "status" "usage_status" not null, "error_code" text null, "latency_ms" int not null default 0, "created_at" timestamptz not null, "idempotency_key" text null, "request_hash" text null, "output" jsonb null, constraint "usage_records_pkey" primary key ("id"));`,
    );
    this.addSql(
      `create index "usage_records_tool_created_idx" on "usage_records" ("tool_id", "created_at");`,
    );
    this.addSql(
      `create index "usage_records_created_idx" on "usage_records" ("created_at", "id");`,
    );
    this.addSql(
      `create index "usage_records_user_created_idx" on "usage_records" ("user_id", "created_at", "id") include ("tool_id", "total_tokens", "status");`,
    );

    this.addSql(
      `alter table "tasks" add constraint "tasks_owner_id_foreign" foreign key ("owner_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "subscriptions" add constraint "subscriptions_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "auth_sessions" add constraint "auth_sessions_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "refresh_tokens" add constraint "refresh_tokens_session_id_foreign" foreign key ("session_id") references "auth_sessions" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "audit_entries" add constraint "audit_entries_actor_id_foreign" foreign key ("actor_id") references "users" ("id") on update cascade on delete set null;`,
    );

    this.addSql(
      `alter table "api_keys" add constraint "api_keys_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "usage_records" add constraint "usage_records_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "usage_records" add constraint "usage_records_tool_id_foreign" foreign key ("tool_id") references "tools" ("id") on update cascade;`,
    );
    this.addSql(
      `alter table "usage_records" add constraint "usage_records_api_key_id_foreign" foreign key ("api_key_id") references "api_keys" ("id") on update cascade on delete set null;`,
    );
    // Written by hand: what the entity metadata cannot express.
    this.addSql(
      `alter table "subscriptions" add constraint "subscriptions_tier_foreign" foreign key ("tier") references "plans" ("tier") on update cascade;`,
    );
    this.addSql(
      `alter table "subscriptions" add constraint "subscriptions_tokens_check" check ("tokens_used" >= 0 and "tokens_reserved" >= 0);`,
    );
    this.addSql(
      `alter table "users" add constraint "users_email_lower_check" check ("email" = lower("email"));`,
    );
    this.addSql(
      `alter table "usage_records" add constraint "usage_records_tokens_check" check ("input_tokens" >= 0 and "output_tokens" >= 0 and "total_tokens" >= 0 and "latency_ms" >= 0);`,
    );
    this.addSql(
      `create unique index "usage_records_idempotency_idx" on "usage_records" ("user_id", "idempotency_key") where "idempotency_key" is not null;`,
    );
    this.addSql(
      `create index "audit_entries_target_idx" on "audit_entries" ("target_type", "target_id");`,
    );
    this.addSql(
      `insert into "plans" ("tier", "name", "monthly_token_quota", "requests_per_minute", "rank") values ('FREE', 'Free', 10000, 10, 0), ('PRO', 'Pro', 1000000, 120, 1), ('ENTERPRISE', 'Enterprise', null, 1200, 2);`,
    );
  }
}
