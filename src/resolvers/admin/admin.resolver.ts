import { Arg, Args, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { signedIn } from '../../auth/require-viewer';
import type { Context } from '../../context';
import { User } from '../../entities';
import { Role } from '../../entities/enums';
import type { Services } from '../../services';
import { AuditEntryConnection, PageArgs, UserConnection, UsersArgs } from './admin.types';

@Resolver()
export class AdminResolver {
  constructor(private readonly services: Services) {}

  @Query(() => UserConnection, { description: 'ADMIN: every account, newest first' })
  users(@Args(() => UsersArgs) args: UsersArgs, @Ctx() ctx: Context): UserConnection {
    return this.services.admin.users(ctx.em, args);
  }

  @Query(() => User, { nullable: true, description: 'ADMIN: one account; null if none' })
  user(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<User | null> {
    return this.services.admin.user(ctx.em, id);
  }

  @Query(() => AuditEntryConnection, { description: 'ADMIN: admin actions, newest first' })
  auditLog(@Args(() => PageArgs) args: PageArgs, @Ctx() ctx: Context): AuditEntryConnection {
    return this.services.audit.page(ctx.em, args);
  }

  @Mutation(() => User, { description: 'ADMIN: applies at the user’s next request; audited' })
  setUserRole(
    @Arg('userId', () => ID) userId: string,
    @Arg('role', () => Role) role: Role,
    @Ctx() ctx: Context,
  ): Promise<User> {
    return this.services.admin.setRole(ctx.em, signedIn(ctx), userId, role);
  }

  @Mutation(() => User, {
    description: 'ADMIN: a deactivated user is refused at the next request; audited',
  })
  setUserActive(
    @Arg('userId', () => ID) userId: string,
    @Arg('active', () => Boolean) active: boolean,
    @Ctx() ctx: Context,
  ): Promise<User> {
    return this.services.admin.setActive(ctx.em, signedIn(ctx), userId, active);
  }
}
