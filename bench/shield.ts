/* eslint-disable no-console */
import 'reflect-metadata';
import { execute, parse, type GraphQLSchema } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { guardSchema, permissions } from '../src/permissions';
import { TaskConnection } from '../src/resolvers/tasks/task-connection.type';
import { buildAppSchema } from '../src/schema/build-schema';
import type { Services } from '../src/services';

/**
 * `npm run bench:shield`: what permissions cost on a page of 100 tasks, with no database or HTTP
 * in the way: the schema without permissions, with graphql-shield's middleware applying the map
 * (every field wrapped in an async check), and as the app serves it (the same map checked in
 * place, synchronously, fields whose rule is `allow` untouched).
 */
const owner = {
  id: '00000000-0000-4000-8000-000000000001',
  email: 'a@example.com',
  name: 'A',
  role: 'USER',
  isActive: true,
  createdAt: new Date(),
};
const rows = Array.from({ length: 100 }, (_, i) => ({
  id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  title: `Task ${i}`,
  description: 'A description',
  status: 'TODO',
  priority: 'HIGH',
  dueDate: null,
  completedAt: null,
  createdAt: new Date(),
  updatedAt: new Date(),
  owner: { id: owner.id },
}));
const services = {
  tasks: {
    ownerPage: () =>
      new TaskConnection({
        page: async () => ({
          rows: rows as never[],
          cursorAt: (i: number) => rows[i]!.id,
          hasNextPage: false,
          hasPreviousPage: false,
        }),
        count: async () => rows.length,
      }),
  },
} as unknown as Services;

const document = parse(
  `{ tasks(first: 100) { totalCount edges { cursor node { id title description status priority dueDate completedAt createdAt updatedAt owner { id email name } } } } }`,
);
const context = () => ({
  viewer: {
    kind: 'user',
    via: 'jwt',
    account: owner,
    sessionId: 's',
  },
  loaders: { user: { load: async () => owner } },
});

async function measure(name: string, schema: GraphQLSchema) {
  const run = async () => {
    const result = await execute({ schema, document, contextValue: context() });
    if (result.errors) throw new Error(JSON.stringify(result.errors));
  };
  for (let i = 0; i < 300; i += 1) await run();
  const n = 2_000;
  const started = performance.now();
  for (let i = 0; i < n; i += 1) await run();
  const us = ((performance.now() - started) * 1000) / n;
  console.log(`${name.padEnd(46)} ${us.toFixed(0).padStart(6)} µs per page of 100 tasks`);
  return us;
}

(async () => {
  const wrapped = applyMiddleware(buildAppSchema(services), permissions);
  const served = guardSchema(buildAppSchema(services));
  const none = await measure('no permissions', buildAppSchema(services));
  const all = await measure('graphql-shield middleware, every field', wrapped);
  const app = await measure('the shield map, checked in place (app)', served);
  console.log(
    `\nshield cost: ${(all - none).toFixed(0)} µs wrapped (${((all - none) / 1_400).toFixed(2)} µs per field over ~1,400 fields), ${(app - none).toFixed(0)} µs as served`,
  );
})();
