import { Arg, Args, Ctx, ID, Info, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphQLObjectType, GraphQLResolveInfo } from 'graphql';
import { argumentsOf, rowFields, selectedFields } from '../../lib/selection';
import type { UsersReadAhead } from './admin.service';
import { signedIn } from '../../auth/require-viewer';
import type { Context } from '../../context';
import { User } from '../../entities';
import { Role } from '../../entities/enums';
import type { Services } from '../../services';
import { AuditEntryConnection } from '../../audit/audit.types';
import { PageArgs, UserConnection, UsersArgs } from './admin.types';

@Resolver()
export class AdminResolver {
  constructor(private readonly services: Services) {}

  @Query(() => UserConnection, { description: 'ADMIN: every account, newest first' })
  users(
    @Args(() => UsersArgs) args: UsersArgs,
    @Ctx() ctx: Context,
    @Info() info: GraphQLResolveInfo,
  ): UserConnection {
    return this.services.admin.users(ctx.em, args, this.readAhead(info), ctx.loaders);
  }

  /** What the page's users will be asked for that the page's statement can compute too. */
  private readAhead(info: GraphQLResolveInfo): UsersReadAhead {
    const rows = rowFields(info);
    const userType = info.schema.getType('User') as GraphQLObjectType;
    const ahead: UsersReadAhead = {};
    const tasks = rows.get('tasks') ?? [];
    if (
      tasks.length > 0 &&
      tasks.every((node) => !argumentsOf(info, userType, node).filter) &&
      tasks.some((node) => selectedFields(info, node.selectionSet).has('totalCount'))
    ) {
      ahead.taskCounts = true;
    }
    const usage = rows.get('usage') ?? [];
    if (usage.length > 0) {
      try {
        const ranges = usage.map((node) => {
          const args = argumentsOf(info, userType, node) as { from?: Date; to?: Date };
          return this.services.usage.range(args.from, args.to);
        });
        const same = ranges.every(
          (r) =>
            r.from.getTime() === ranges[0]!.from.getTime() &&
            (r.to?.getTime() ?? null) === (ranges[0]!.to?.getTime() ?? null),
        );
        const wanted = usage.some((node) => {
          const fields = selectedFields(info, node.selectionSet);
          return fields.has('totalTokens') || fields.has('calls');
        });
        if (same && wanted) ahead.usage = ranges[0]!;
      } catch {
        // A bad range: the field itself answers BAD_USER_INPUT; nothing to read ahead.
      }
    }
    return ahead;
  }

  @Query(() => User, { nullable: true, description: 'ADMIN: one account; null if none' })
  user(
    @Arg('id', () => ID, {
      description: 'The account’s id; a malformed one answers BAD_USER_INPUT',
    })
    id: string,
    @Ctx() ctx: Context,
  ): Promise<User | null> {
    return this.services.admin.user(ctx.em, id);
  }

  @Query(() => AuditEntryConnection, { description: 'ADMIN: admin actions, newest first' })
  auditLog(@Args(() => PageArgs) args: PageArgs, @Ctx() ctx: Context): AuditEntryConnection {
    return this.services.audit.page(ctx.em, args);
  }

  @Mutation(() => User, { description: 'ADMIN: applies at the user’s next request; audited' })
  setUserRole(
    @Arg('userId', () => ID, { description: 'The account’s id; NOT_FOUND if there is none' })
    userId: string,
    @Arg('role', () => Role, {
      description: 'The new role; demoting the last active admin answers CONFLICT',
    })
    role: Role,
    @Ctx() ctx: Context,
  ): Promise<User> {
    return this.services.admin.setRole(ctx.em, signedIn(ctx), userId, role);
  }

  @Mutation(() => User, {
    description: 'ADMIN: a deactivated user is refused at the next request; audited',
  })
  setUserActive(
    @Arg('userId', () => ID, { description: 'The account’s id; NOT_FOUND if there is none' })
    userId: string,
    @Arg('active', () => Boolean, {
      description:
        'false deactivates the account and ends its sessions (CONFLICT for the last active admin); true reactivates it',
    })
    active: boolean,
    @Ctx() ctx: Context,
  ): Promise<User> {
    return this.services.admin.setActive(ctx.em, signedIn(ctx), userId, active);
  }
}
