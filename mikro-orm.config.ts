import 'reflect-metadata';
import { ormOptions } from './src/db/orm-options';

/**
 * Used by the MikroORM CLI (`npm run migration:create`, `npm run migration:up`), which
 * needs a real PostgreSQL: set DATABASE_URL. The server itself builds its options in
 * src/db/orm-options.ts and applies migrations at start.
 */
const url = process.env.DATABASE_URL;
if (!url) throw new Error('Set DATABASE_URL to use the MikroORM CLI');
export default ormOptions(url, { poolMax: 2, connectTimeoutMs: 10_000 }, true);
