import { Args, Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { Context } from '../../context';
import { User } from '../../entities';
import type { Services } from '../../services';
import { TaskConnection } from './task-connection.type';
import { TaskPageArgs } from './tasks.args';

@Resolver(() => User)
export class UserTasksResolver {
  constructor(private readonly services: Services) {}

  @FieldResolver(() => TaskConnection, { description: 'Owner or admin; newest first' })
  tasks(
    @Root() user: Pick<User, 'id'>,
    @Args(() => TaskPageArgs) args: TaskPageArgs,
    @Ctx() ctx: Context,
  ) {
    return this.services.tasks.ownerPage(ctx.loaders, user.id, args);
  }
}
