import 'reflect-metadata';
import { createApp } from '../app';
import { loadConfig } from '../config';

/**
 * `npm run seed`: applies migrations and the first-start seed (first admin, built-in tools)
 * to the configured database without serving; the server does the same at every start.
 */
createApp(loadConfig())
  .then((app) => app.close())
  .catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
