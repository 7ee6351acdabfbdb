import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ApiKey, Plan, Subscription, Task, Tool, User } from './entities';
import type { PlanTier } from './entities/enums';
import type { TaskFilterValues, TaskPageQuery } from './entities/task.repository';
import type { Page } from './lib/pagination';
import { summarizeUsage } from './resolvers/usage/usage.service';
import type { UsageSummary } from './resolvers/usage/usage.types';

function byId<T extends { id: string }>(rows: T[], ids: readonly string[]): (T | null)[] {
  const map = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => map.get(id) ?? null);
}

interface OwnerPageKey {
  ownerId: string;
  query: TaskPageQuery;
}
interface UsageSummaryKey {
  userId: string;
  from: Date;
  to: Date;
}
interface OwnerCountKey {
  ownerId: string;
  filter: TaskFilterValues | null | undefined;
}

/** Groups keys that share everything but the owner, so that each group is one statement. */
function groupByRest<K extends { ownerId: string }>(keys: readonly K[], rest: (key: K) => unknown) {
  const groups = new Map<string, { sample: K; members: K[]; ownerIds: string[] }>();
  for (const key of keys) {
    const id = JSON.stringify(rest(key));
    let group = groups.get(id);
    if (!group) groups.set(id, (group = { sample: key, members: [], ownerIds: [] }));
    group.members.push(key);
    if (!group.ownerIds.includes(key.ownerId)) group.ownerIds.push(key.ownerId);
  }
  return groups.values();
}

/** Per-request DataLoaders: field resolvers never query once per parent. */
export function createLoaders(em: EntityManager) {
  const tasks = em.getRepository(Task);
  const loaders = {
    user: new DataLoader<string, User | null>(async (ids) =>
      byId(await em.find(User, { id: { $in: [...ids] } }), ids),
    ),
    tool: new DataLoader<string, Tool | null>(async (ids) =>
      byId(await em.find(Tool, { id: { $in: [...ids] } }), ids),
    ),
    apiKey: new DataLoader<string, ApiKey | null>(async (ids) =>
      byId(await em.find(ApiKey, { id: { $in: [...ids] } }), ids),
    ),
    subscription: new DataLoader<string, Subscription | null>(async (userIds) => {
      const rows = await em.find(Subscription, { user: { $in: [...userIds] } });
      const map = new Map(rows.map((row) => [row.user.id, row]));
      return userIds.map((id) => map.get(id) ?? null);
    }),
    plan: new DataLoader<PlanTier, Plan>(async (tiers) => {
      const rows = await em.find(Plan, { tier: { $in: [...tiers] } });
      const map = new Map(rows.map((row) => [row.tier, row]));
      return tiers.map((tier) => map.get(tier) ?? new Error(`Unknown plan ${tier}`));
    }),
    taskPage: new DataLoader<OwnerPageKey, Page<Task>, string>(
      async (keys) => {
        const results = new Map<OwnerPageKey, Page<Task>>();
        for (const { sample, members, ownerIds } of groupByRest(keys, (k) => k.query)) {
          const pages = await tasks.pages(ownerIds, sample.query);
          for (const key of members) {
            const page = pages.get(key.ownerId);
            if (page) results.set(key, page);
          }
        }
        return keys.map((key) => results.get(key) ?? new Error('task page missing'));
      },
      { cacheKeyFn: (key) => JSON.stringify(key) },
    ),
    taskCount: new DataLoader<OwnerCountKey, number, string>(
      async (keys) => {
        const results = new Map<OwnerCountKey, number>();
        for (const { sample, members, ownerIds } of groupByRest(keys, (k) => k.filter ?? null)) {
          const counts = await tasks.counts(ownerIds, sample.filter);
          for (const key of members) results.set(key, counts.get(key.ownerId) ?? 0);
        }
        return keys.map((key) => results.get(key) ?? 0);
      },
      { cacheKeyFn: (key) => JSON.stringify(key) },
    ),
    usageSummary: new DataLoader<UsageSummaryKey, UsageSummary, string>(
      async (keys) => {
        const owned = keys.map((key) => ({ ...key, ownerId: key.userId }));
        const results = new Map<(typeof owned)[number], UsageSummary>();
        for (const { sample, members, ownerIds } of groupByRest(owned, (k) => [k.from, k.to])) {
          const summaries = await summarizeUsage(em, loaders, ownerIds, sample);
          for (const key of members) results.set(key, summaries.get(key.userId)!);
        }
        return owned.map((key) => results.get(key) ?? new Error('usage summary missing'));
      },
      { cacheKeyFn: (key) => JSON.stringify([key.userId, key.from, key.to]) },
    ),
  };
  return loaders;
}

export type Loaders = ReturnType<typeof createLoaders>;
