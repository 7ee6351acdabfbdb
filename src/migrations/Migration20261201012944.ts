import { Migration } from '@mikro-orm/migrations';

/**
 * Indexes for every list's order: the admin's users page (newest first) and allTasks over
 * everyone's tasks by updated time, priority and due date.
 *
 * A plain CREATE INDEX blocks writes to its table while it builds: seconds on a table of a
 * million tasks (about 1 s each on the 2-core bench machine, longer under load). To avoid that on a large production
 * database, build them beforehand with CREATE INDEX CONCURRENTLY (same names and columns, see
 * below, outside a transaction); these statements then find them and do nothing.
 */
export class Migration20261201012944 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index if not exists "users_created_idx" on "users" ("created_at", "id");`);
    this.addSql(
      `create index if not exists "tasks_due_idx" on "tasks" (coalesce("due_date", 'infinity'::timestamptz), "id");`,
    );
    this.addSql(`create index if not exists "tasks_priority_idx" on "tasks" ("priority", "id");`);
    this.addSql(`create index if not exists "tasks_updated_idx" on "tasks" ("updated_at", "id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "users_created_idx";`);
    this.addSql(`drop index if exists "tasks_due_idx";`);
    this.addSql(`drop index if exists "tasks_priority_idx";`);
    this.addSql(`drop index if exists "tasks_updated_idx";`);
  }
}
