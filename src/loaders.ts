import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ApiKey, Plan, Subscription, Task, Tool, User } from './entities';
import type { PlanTier } from './entities/enums';
import type { TaskFilterValues, TaskPageQuery } from './entities/task.repository';
import type { Viewer } from './auth/viewer';
import type { Page } from './lib/pagination';
import { systemClock, type Clock } from './lib/clock';
import {
  UsageAggregates,
  type UsageByDayRow,
  type UsageByToolRow,
  type UsageRange,
  type UsageTotals,
} from './entities/usage-aggregates';

function byId<T extends { id: string }>(rows: T[], ids: readonly string[]): (T | null)[] {
  const map = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => map.get(id) ?? null);
}

interface OwnerPageKey {
  ownerId: string;
  query: TaskPageQuery;
}
export interface UsageKey {
  userId: string;
  from: Date;
  /** null: up to now. */
  to: Date | null;
}

/** One usage aggregate, batched: one statement per range whatever the number of users. */
function usageLoader<T>(
  load: (userIds: string[], range: UsageRange) => Promise<Map<string, T>>,
): DataLoader<UsageKey, T | undefined, string> {
  return new DataLoader<UsageKey, T | undefined, string>(
    async (keys) => {
      const results = new Map<UsageKey, T | undefined>();
      const owned = keys.map((key) => ({ key, ownerId: key.userId }));
      for (const { sample, members, ownerIds } of groupByRest(owned, (k) => [
        k.key.from,
        k.key.to,
      ])) {
        const values = await load(ownerIds, { from: sample.key.from, to: sample.key.to });
        for (const { key } of members) results.set(key, values.get(key.userId));
      }
      return keys.map((key) => results.get(key));
    },
    { cacheKeyFn: usageKeyText },
  );
}

/** A usage key as text: the loaders' cache key, and `known.usageTotals`'. */
export function usageKeyText(key: UsageKey): string {
  return `${key.userId}:${key.from.getTime()}:${key.to?.getTime() ?? 'now'}`;
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

/**
 * Per-request DataLoaders: field resolvers never query once per parent. The signed-in viewer's
 * own row (read with the credentials) is already in the user loader: `me`, and `owner` on the
 * viewer's own tasks, cost no statement. Each loader is made when a field first asks for it:
 * most requests use none or one of the ten, and every request made them all.
 */
export class Loaders {
  private userLoader?: DataLoader<string, User | null>;
  private toolLoader?: DataLoader<string, Tool | null>;
  private apiKeyLoader?: DataLoader<string, ApiKey | null>;
  private subscriptionLoader?: DataLoader<string, Subscription | null>;
  private planLoader?: DataLoader<PlanTier, Plan>;
  private taskPageLoader?: DataLoader<OwnerPageKey, Page<Task>, string>;
  private taskCountLoader?: DataLoader<OwnerCountKey, number, string>;
  private usageTotalsLoader?: DataLoader<UsageKey, UsageTotals | undefined, string>;
  private usageByToolLoader?: DataLoader<UsageKey, UsageByToolRow[] | undefined, string>;
  private usageByDayLoader?: DataLoader<UsageKey, UsageByDayRow[] | undefined, string>;
  private knownValues?: {
    taskCounts: Map<string, number>;
    usageTotals: Map<string, UsageTotals>;
  };
  private usageAggregates?: UsageAggregates;

  constructor(
    private readonly em: EntityManager,
    private readonly viewer: Viewer | undefined,
    private readonly clock: Clock,
  ) {}

  get user(): DataLoader<string, User | null> {
    if (!this.userLoader) {
      const users = this.em.getRepository(User);
      this.userLoader = new DataLoader<string, User | null>(async (ids) =>
        byId(await users.byIds(ids), ids),
      );
      // An unverified viewer's account is primed once its check has read it
      // (auth/session-check.ts).
      const viewer = this.viewer;
      if (viewer?.kind === 'user' && !('unverified' in viewer && viewer.unverified)) {
        this.userLoader.prime(viewer.account.id, viewer.account as User);
      }
    }
    return this.userLoader;
  }

  get tool(): DataLoader<string, Tool | null> {
    const em = this.em;
    return (this.toolLoader ??= new DataLoader<string, Tool | null>(async (ids) =>
      byId(await em.find(Tool, { id: { $in: [...ids] } }), ids),
    ));
  }

  get apiKey(): DataLoader<string, ApiKey | null> {
    const em = this.em;
    return (this.apiKeyLoader ??= new DataLoader<string, ApiKey | null>(async (ids) =>
      byId(await em.find(ApiKey, { id: { $in: [...ids] } }), ids),
    ));
  }

  get subscription(): DataLoader<string, Subscription | null> {
    const em = this.em;
    return (this.subscriptionLoader ??= new DataLoader<string, Subscription | null>(
      async (userIds) => {
        const rows = await em.find(Subscription, { user: { $in: [...userIds] } });
        const map = new Map(rows.map((row) => [row.user.id, row]));
        return userIds.map((id) => map.get(id) ?? null);
      },
    ));
  }

  get plan(): DataLoader<PlanTier, Plan> {
    const em = this.em;
    return (this.planLoader ??= new DataLoader<PlanTier, Plan>(async (tiers) => {
      const rows = await em.find(Plan, { tier: { $in: [...tiers] } });
      const map = new Map(rows.map((row) => [row.tier, row]));
      return tiers.map((tier) => map.get(tier) ?? new Error(`Unknown plan ${tier}`));
    }));
  }

  get taskPage(): DataLoader<OwnerPageKey, Page<Task>, string> {
    return (this.taskPageLoader ??= this.makeTaskPage());
  }

  private makeTaskPage(): DataLoader<OwnerPageKey, Page<Task>, string> {
    const tasks = this.em.getRepository(Task);
    return new DataLoader<OwnerPageKey, Page<Task>, string>(
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
    );
  }

  get taskCount(): DataLoader<OwnerCountKey, number, string> {
    return (this.taskCountLoader ??= this.makeTaskCount());
  }

  private makeTaskCount(): DataLoader<OwnerCountKey, number, string> {
    const tasks = this.em.getRepository(Task);
    return new DataLoader<OwnerCountKey, number, string>(
      async (keys) => {
        const results = new Map<OwnerCountKey, number>();
        for (const { sample, members, ownerIds } of groupByRest(keys, (k) => k.filter ?? null)) {
          const counts = await tasks.counts(ownerIds, sample.filter);
          for (const key of members) results.set(key, counts.get(key.ownerId) ?? 0);
        }
        return keys.map((key) => results.get(key) ?? 0);
      },
      { cacheKeyFn: (key) => JSON.stringify(key) },
    );
  }

  get usageTotals(): DataLoader<UsageKey, UsageTotals | undefined, string> {
    return (this.usageTotalsLoader ??= usageLoader((ids, range) =>
      this.usage().totals(ids, range),
    ));
  }

  get usageByTool(): DataLoader<UsageKey, UsageByToolRow[] | undefined, string> {
    return (this.usageByToolLoader ??= usageLoader((ids, range) =>
      this.usage().byTool(ids, range),
    ));
  }

  get usageByDay(): DataLoader<UsageKey, UsageByDayRow[] | undefined, string> {
    return (this.usageByDayLoader ??= usageLoader((ids, range) => this.usage().byDay(ids, range)));
  }

  /**
   * Values a statement of this request has already read (an admin users page computes its
   * rows' task counts and usage totals in its own statement): their fields answer them at
   * once, where a primed loader would answer each with a promise (four a row, on a page of
   * 50). Task counts are without a filter, by owner; usage totals by `usageKeyText`.
   */
  get known(): { taskCounts: Map<string, number>; usageTotals: Map<string, UsageTotals> } {
    return (this.knownValues ??= { taskCounts: new Map(), usageTotals: new Map() });
  }

  private usage(): UsageAggregates {
    return (this.usageAggregates ??= new UsageAggregates(this.em, this.clock));
  }
}

export function createLoaders(
  em: EntityManager,
  viewer?: Viewer,
  clock: Clock = systemClock,
): Loaders {
  return new Loaders(em, viewer, clock);
}
