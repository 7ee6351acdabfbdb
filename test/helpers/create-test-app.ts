import 'reflect-metadata';
import { createApp, type App, type AppOptions } from '../../src/app';
import type { Config } from '../../src/config';
import { gql, type GraphQLResponse, type OperationArgs, type TypedDocument } from './graphql';
import { Seed } from './seed';
import { testConfig } from './test-config';

export interface TestApp {
  app: App;
  url: string;
  seed: Seed;
  gql: {
    /** An operation of test/operations: typed variables in, typed data out. */
    <T, V>(document: TypedDocument<T, V>, ...args: OperationArgs<V>): Promise<GraphQLResponse<T>>;
    /** Any text: a document a test builds, or one whose shape is the point of the test. */
    <T = Record<string, any>>(
      query: string,
      variables?: Record<string, unknown>,
      token?: string,
    ): Promise<GraphQLResponse<T>>;
  };
  /** Runs `fn` and returns the SQL statements this app sent meanwhile. */
  countQueries(fn: () => Promise<unknown>): Promise<string[]>;
  /** One SQL statement (`?` placeholders) on the app's database, outside any request. */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/** A real server on an ephemeral port against the test database. */
export async function startTestApp(
  overrides: Partial<Config> = {},
  options: AppOptions = {},
): Promise<TestApp> {
  const app = await createApp(testConfig(overrides), options);
  const url = await app.listen();
  const testApp: TestApp = {
    app,
    url,
    seed: undefined as unknown as Seed,
    gql: (query: string | TypedDocument<unknown, unknown>, variables?: unknown, token?: string) =>
      gql(url, query, variables as Record<string, unknown>, token),
    async countQueries(fn) {
      const seen: string[] = [];
      const stop = app.watchStatements((sql) => seen.push(sql));
      try {
        await fn();
      } finally {
        stop();
      }
      return seen;
    },
    sql: async <T>(text: string, params: unknown[] = []) =>
      (await app.orm.em.fork().getConnection().execute(text, params)) as T[],
    close: () => app.close(),
  };
  testApp.seed = new Seed(testApp);
  return testApp;
}
