import { Migration } from '@mikro-orm/migrations';

export class Migration20261122055120 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "idempotency_claims" ("user_id" uuid not null, "key" text not null, "request_hash" text not null, "created_at" timestamptz not null, constraint "idempotency_claims_pkey" primary key ("user_id", "key"));`,
    );

    this.addSql(
      `alter table "idempotency_claims" add constraint "idempotency_claims_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "idempotency_claims" cascade;`);
  }
}
