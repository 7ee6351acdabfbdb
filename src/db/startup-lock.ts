/**
 * The advisory lock that serializes what instances do once at start (database settings,
 * migrations, first-start seeding). Always taken with pg_advisory_xact_lock, inside a
 * transaction: a session lock would outlive the transaction on a pooled server connection
 * behind PgBouncer in transaction mode, and be released by whoever got that connection next.
 */
export const STARTUP_LOCK = 7_291_845_303_112_004;
