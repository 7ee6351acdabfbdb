import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { GraphQLResolveInfo } from 'graphql';
import { signedIn } from '../../auth/require-viewer';
import { settleSession, verifySession } from '../../auth/session-check';
import type { SignedInViewer } from '../../auth/viewer';
import type { Context } from '../../context';
import { Task, User } from '../../entities';
import { TaskPriority, TaskStatus } from '../../entities/enums';
import {
  DEFAULT_TASK_ORDER,
  decodeTaskCursor,
  SLIM_TASK_FIELDS,
  type TaskOrderValues,
} from '../../entities/task.repository';
import { BadUserInputError, NotFoundError, UnauthenticatedError } from '../../errors';
import type { Clock } from '../../lib/clock';
import { requireId } from '../../lib/ids';
import { pageSize } from '../../lib/pagination';
import { rowFieldsWithin } from '../../lib/selection';
import type { Loaders } from '../../loaders';
import type { AuditService } from '../../audit/audit.service';
import type { CreateTaskInput, TaskFilter, UpdateTaskInput } from './task.inputs';
import { TaskConnection } from './task-connection.type';

interface ListArgs {
  first?: number | null;
  after?: string | null;
  filter?: TaskFilter | null;
  orderBy?: TaskOrderValues | null;
}

function checkFilter(filter: TaskFilter | null | undefined): void {
  if (filter?.dueBefore && filter.dueAfter && filter.dueAfter >= filter.dueBefore) {
    throw new BadUserInputError('dueAfter must be before dueBefore', ['dueAfter', 'dueBefore']);
  }
}

/** A plain, comparable copy of the filter: it keys the batched loaders. */
function filterValues(filter: TaskFilter | null | undefined) {
  if (!filter) return null;
  return {
    status: filter.status ? [...new Set(filter.status)].sort() : null,
    priority: filter.priority ? [...new Set(filter.priority)].sort() : null,
    search: filter.search ?? null,
    dueBefore: filter.dueBefore ?? null,
    dueAfter: filter.dueAfter ?? null,
  };
}

/** What an update can change: an update that changed none of it leaves updatedAt alone. */
function editable(task: Task): string {
  const { title, description, status, priority, dueDate, completedAt } = task;
  return JSON.stringify([title, description, status, priority, dueDate, completedAt]);
}

/** Checks a list's arguments up front (so a bad one never reaches a batch) and normalises them. */
function pageQuery(args: ListArgs) {
  const first = pageSize(args.first);
  checkFilter(args.filter);
  const order = args.orderBy ?? DEFAULT_TASK_ORDER;
  decodeTaskCursor(order, args.after);
  return { filter: filterValues(args.filter), order, first, after: args.after };
}

/**
 * Tasks are scoped to their owner here: another user's task id is looked up with the
 * owner in the WHERE clause, so it answers exactly as a missing id does.
 */
export class TaskService {
  constructor(
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  /** A page of one owner's tasks; batched, so `User.tasks` over many users stays one query. */
  ownerPage(loaders: Loaders, ownerId: string, args: ListArgs): TaskConnection {
    const query = pageQuery(args);
    const { filter } = query;
    return new TaskConnection({
      page: () => loaders.taskPage.load({ ownerId, query }),
      count: () =>
        (filter == null ? loaders.known.taskCounts.get(ownerId) : undefined) ??
        loaders.taskCount.load({ ownerId, filter }),
    });
  }

  /**
   * The caller's own page when its session check rides on it (auth/session-check.ts): one
   * statement reads the session and the page; a gone session reads no row and answers
   * UNAUTHENTICATED. Bad arguments are refused after the session is checked on its own.
   */
  async sessionPage(
    ctx: Context,
    args: ListArgs,
    info?: GraphQLResolveInfo,
  ): Promise<TaskConnection> {
    const viewer = signedIn(ctx);
    if (viewer.via !== 'jwt') throw new UnauthenticatedError();
    let query: ReturnType<typeof pageQuery>;
    try {
      query = pageQuery(args);
    } catch (err) {
      await verifySession(ctx);
      throw err;
    }
    // A list that shows only what a task list shows reads only those columns.
    const slim = info !== undefined && rowFieldsWithin(info, SLIM_TASK_FIELDS);
    const result = await ctx.em
      .getRepository(Task)
      .sessionPage(viewer.account.id, viewer.sessionId, query, slim);
    const { account } = settleSession(ctx, result?.account ?? null);
    const { filter } = query;
    return new TaskConnection({
      page: () => Promise.resolve(result!.page),
      count: () => ctx.loaders.taskCount.load({ ownerId: account.id, filter }),
    });
  }

  /** Every task (ADMIN), optionally one owner's. */
  allPage(em: EntityManager, loaders: Loaders, args: ListArgs & { ownerId?: string | null }) {
    if (args.ownerId !== undefined && args.ownerId !== null) {
      return this.ownerPage(loaders, requireId(args.ownerId, 'ownerId'), args);
    }
    const query = pageQuery(args);
    const repo = em.getRepository(Task);
    return new TaskConnection({
      page: async () => (await repo.pages(null, query)).get(null)!,
      count: async () => (await repo.counts(null, query.filter)).get(null) ?? 0,
    });
  }

  async get(em: EntityManager, viewer: SignedInViewer, id: string): Promise<Task> {
    requireId(id, 'id');
    const task = await em.findOne(Task, { id, owner: viewer.account.id });
    if (!task) throw new NotFoundError('Task');
    return task;
  }

  async create(em: EntityManager, viewer: SignedInViewer, input: CreateTaskInput): Promise<Task> {
    const now = this.clock.now();
    const status = input.status ?? TaskStatus.TODO;
    const task = em.create(Task, {
      owner: em.getReference(User, viewer.account.id),
      title: input.title.trim(),
      description: input.description ?? null,
      status,
      priority: input.priority ?? TaskPriority.MEDIUM,
      dueDate: input.dueDate ?? null,
      completedAt: status === TaskStatus.DONE ? now : null,
      createdAt: now,
      updatedAt: now,
    });
    await em.flush();
    return task;
  }

  /**
   * In a transaction, on the row locked (FOR UPDATE): concurrent updates of one task apply one
   * after the other, each to what the last left. Read unlocked, two updates could each write
   * only what differed from the same old row: DONE and IN_PROGRESS sent together left
   * IN_PROGRESS with DONE's completedAt, a state neither answer showed.
   */
  async update(
    em: EntityManager,
    viewer: SignedInViewer,
    id: string,
    input: UpdateTaskInput,
  ): Promise<Task> {
    requireId(id, 'id');
    return em.transactional((tx) => this.updateLocked(tx, viewer, id, input));
  }

  private async updateLocked(
    em: EntityManager,
    viewer: SignedInViewer,
    id: string,
    input: UpdateTaskInput,
  ): Promise<Task> {
    const task = await em.findOne(
      Task,
      { id, owner: viewer.account.id },
      { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
    );
    if (!task) throw new NotFoundError('Task');
    const before = editable(task);
    if (input.title !== undefined) {
      if (input.title === null) throw new BadUserInputError('title cannot be null', ['title']);
      task.title = input.title.trim();
    }
    if (input.description !== undefined) task.description = input.description;
    if (input.priority !== undefined) {
      if (input.priority === null)
        throw new BadUserInputError('priority cannot be null', ['priority']);
      task.priority = input.priority;
    }
    if (input.dueDate !== undefined) task.dueDate = input.dueDate;
    if (input.status !== undefined) {
      if (input.status === null) throw new BadUserInputError('status cannot be null', ['status']);
      if (input.status === TaskStatus.DONE && task.status !== TaskStatus.DONE) {
        task.completedAt = this.clock.now();
      } else if (input.status !== TaskStatus.DONE) {
        task.completedAt = null;
      }
      task.status = input.status;
    }
    if (editable(task) !== before) task.updatedAt = this.clock.now();
    await em.flush();
    return task;
  }

  async delete(em: EntityManager, viewer: SignedInViewer, id: string): Promise<string> {
    requireId(id, 'id');
    const deleted = await em.nativeDelete(Task, { id, owner: viewer.account.id });
    if (deleted === 0) throw new NotFoundError('Task');
    return id;
  }

  /** ADMIN: deletes any task, with an audit entry in the same transaction. */
  async adminDelete(em: EntityManager, viewer: SignedInViewer, id: string): Promise<string> {
    requireId(id, 'id');
    return em.transactional(async (tx) => {
      const task = await tx.findOne(Task, { id });
      if (!task) throw new NotFoundError('Task');
      const before = {
        title: task.title,
        status: task.status,
        ownerId: task.owner.id,
      };
      tx.remove(task);
      this.audit.record(tx, viewer, 'task.delete', 'Task', id, { before, after: null });
      await tx.flush();
      return id;
    });
  }
}
