import { Migration } from '@mikro-orm/migrations';

/**
 * Idempotency: stored answers of mutations sent with an Idempotency-Key header, and the error
 * code a failed invokeTool call leaves on its claim for the duplicates waiting on it.
 */
export class Migration20261201003910 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "idempotent_requests" ("caller" text not null, "key" text not null, "request_hash" text not null, "status" smallint not null, "body" text not null, "created_at" timestamptz not null, constraint "idempotent_requests_pkey" primary key ("caller", "key"));`,
    );
    this.addSql(
      `create index "idempotent_requests_created_idx" on "idempotent_requests" ("created_at");`,
    );

    this.addSql(`alter table "idempotency_claims" add column "error_code" text null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "idempotent_requests" cascade;`);

    this.addSql(`alter table "idempotency_claims" drop column "error_code";`);
  }
}
