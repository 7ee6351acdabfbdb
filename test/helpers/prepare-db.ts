import 'reflect-metadata';
import { createApp } from '../../src/app';
import { testConfig } from './test-config';

/**
 * Applies migrations and the first-start seed to the test database. Runs in its own process
 * (from globalSetup): MikroORM's metadata must not be created in jest's parent realm.
 */
createApp(testConfig())
  .then((app) => app.close())
  .catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
