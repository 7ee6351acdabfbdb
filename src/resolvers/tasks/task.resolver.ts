import type { GraphQLResolveInfo } from 'graphql';
import {
  Arg,
  Args,
  Ctx,
  FieldResolver,
  ID,
  Info,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { signedIn } from '../../auth/require-viewer';
import { isUnverified } from '../../auth/session-check';
import type { Context } from '../../context';
import { Task, User } from '../../entities';
import { NotFoundError } from '../../errors';
import type { Services } from '../../services';
import { CreateTaskInput, UpdateTaskInput } from './task.inputs';
import { TaskConnection } from './task-connection.type';
import { AllTasksArgs, TasksArgs } from './tasks.args';

@Resolver(() => Task)
export class TaskResolver {
  constructor(private readonly services: Services) {}

  @Query(() => Task, {
    nullable: true,
    description: "Own task; someone else's answers NOT_FOUND",
  })
  task(
    @Arg('id', () => ID, { description: 'The task’s id; a malformed one answers BAD_USER_INPUT' })
    id: string,
    @Ctx() ctx: Context,
  ): Promise<Task> {
    return this.services.tasks.get(ctx.em, signedIn(ctx), id);
  }

  @Query(() => TaskConnection, { description: 'Own tasks only' })
  tasks(
    @Args(() => TasksArgs) args: TasksArgs,
    @Ctx() ctx: Context,
    @Info() info: GraphQLResolveInfo,
  ): TaskConnection | Promise<TaskConnection> {
    const viewer = signedIn(ctx);
    // The session not checked yet: it is, with the page (auth/session-check.ts).
    if (isUnverified(viewer)) return this.services.tasks.sessionPage(ctx, args, info);
    return this.services.tasks.ownerPage(ctx.loaders, viewer.account.id, args);
  }

  @Query(() => TaskConnection, { description: 'ADMIN: every task, or one owner’s' })
  allTasks(@Args(() => AllTasksArgs) args: AllTasksArgs, @Ctx() ctx: Context): TaskConnection {
    return this.services.tasks.allPage(ctx.em, ctx.loaders, args);
  }

  @Mutation(() => Task, { description: 'Creates a task owned by the caller' })
  createTask(
    @Arg('input', () => CreateTaskInput, { description: 'The new task' })
    input: CreateTaskInput,
    @Ctx() ctx: Context,
  ): Promise<Task> {
    return this.services.tasks.create(ctx.em, signedIn(ctx), input);
  }

  @Mutation(() => Task, { description: 'Changes an own task' })
  updateTask(
    @Arg('id', () => ID, { description: 'An own task’s id; any other answers NOT_FOUND' })
    id: string,
    @Arg('input', () => UpdateTaskInput, { description: 'The changes; absent fields stay' })
    input: UpdateTaskInput,
    @Ctx() ctx: Context,
  ): Promise<Task> {
    return this.services.tasks.update(ctx.em, signedIn(ctx), id, input);
  }

  @Mutation(() => ID, { description: 'Deletes an own task; returns its id' })
  deleteTask(
    @Arg('id', () => ID, { description: 'An own task’s id; any other answers NOT_FOUND' })
    id: string,
    @Ctx() ctx: Context,
  ): Promise<string> {
    return this.services.tasks.delete(ctx.em, signedIn(ctx), id);
  }

  @Mutation(() => ID, { description: 'ADMIN: deletes any task; audited' })
  adminDeleteTask(
    @Arg('id', () => ID, { description: 'Any user’s task id; NOT_FOUND if there is none' })
    id: string,
    @Ctx() ctx: Context,
  ): Promise<string> {
    return this.services.tasks.adminDelete(ctx.em, signedIn(ctx), id);
  }

  @FieldResolver(() => User, { description: 'Who owns the task' })
  owner(@Root() task: Pick<Task, 'owner'>, @Ctx() ctx: Context): User | Promise<User> {
    // The caller's own tasks (most lists): the account read with the credentials, at once.
    const v = ctx.viewer;
    if (v.kind === 'user' && !isUnverified(v) && v.account.id === task.owner.id) {
      return v.account as User;
    }
    return ctx.loaders.user.load(task.owner.id).then((user) => {
      if (!user) throw new NotFoundError('User');
      return user;
    });
  }
}
