import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { signedIn } from '../../auth/require-viewer';
import type { Context } from '../../context';
import { User } from '../../entities';
import { NotFoundError } from '../../errors';
import type { Services } from '../../services';
import { AuthPayload } from './auth-payload.type';
import {
  ChangePasswordInput,
  LoginInput,
  RegisterInput,
  UpdateProfileInput,
} from './account.inputs';

@Resolver()
export class AccountResolver {
  constructor(private readonly services: Services) {}

  @Query(() => User, { description: 'The signed-in account' })
  async me(@Ctx() ctx: Context): Promise<User> {
    const user = await ctx.loaders.user.load(signedIn(ctx).account.id);
    if (!user) throw new NotFoundError('User');
    return user;
  }

  @Mutation(() => AuthPayload, { description: 'Creates an account on the FREE plan; public' })
  register(
    @Arg('input', () => RegisterInput, {
      description: 'Email, password and name; an email already registered answers CONFLICT',
    })
    input: RegisterInput,
    @Ctx() ctx: Context,
  ) {
    return this.services.accounts.register(ctx.em, input, ctx.clientAddress);
  }

  @Mutation(() => AuthPayload, { description: 'Signs in; public' })
  login(
    @Arg('input', () => LoginInput, {
      description:
        'Email and password; a wrong pair or a deactivated account answers UNAUTHENTICATED, too many attempts RATE_LIMITED',
    })
    input: LoginInput,
    @Ctx() ctx: Context,
  ) {
    return this.services.accounts.login(ctx.em, input, ctx.clientAddress);
  }

  @Mutation(() => AuthPayload, {
    description: 'Public; rotates: the old refresh token stops working',
  })
  refreshToken(
    @Arg('refreshToken', () => String, { description: 'From register, login or refreshToken' })
    refreshToken: string,
    @Ctx() ctx: Context,
  ) {
    return this.services.accounts.refresh(ctx.em, refreshToken, ctx.clientAddress);
  }

  @Mutation(() => Boolean, { description: 'Ends the session this refresh token belongs to' })
  logout(
    @Arg('refreshToken', () => String, {
      description: 'One of the caller’s refresh tokens; any other answers false and ends nothing',
    })
    refreshToken: string,
    @Ctx() ctx: Context,
  ): Promise<boolean> {
    return this.services.accounts.logout(ctx.em, signedIn(ctx), refreshToken);
  }

  @Mutation(() => Boolean, { description: 'Revokes every refresh token of the caller' })
  logoutAll(@Ctx() ctx: Context): Promise<boolean> {
    return this.services.accounts.logoutAll(ctx.em, signedIn(ctx));
  }

  @Mutation(() => User, { description: 'Changes the caller’s profile' })
  updateProfile(
    @Arg('input', () => UpdateProfileInput, { description: 'The changes; absent fields stay' })
    input: UpdateProfileInput,
    @Ctx() ctx: Context,
  ): Promise<User> {
    return this.services.accounts.updateProfile(ctx.em, signedIn(ctx), input);
  }

  @Mutation(() => Boolean, { description: 'Revokes the caller’s other sessions' })
  changePassword(
    @Arg('input', () => ChangePasswordInput, { description: 'The current and the new password' })
    input: ChangePasswordInput,
    @Ctx() ctx: Context,
  ): Promise<boolean> {
    return this.services.accounts.changePassword(ctx.em, signedIn(ctx), input);
  }
}
