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
  register(@Arg('input', () => RegisterInput) input: RegisterInput, @Ctx() ctx: Context) {
    return this.services.accounts.register(ctx.em, input, ctx.clientAddress);
  }

  @Mutation(() => AuthPayload, { description: 'Signs in; public' })
  login(@Arg('input', () => LoginInput) input: LoginInput, @Ctx() ctx: Context) {
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
    @Arg('refreshToken', () => String) refreshToken: string,
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
    @Arg('input', () => UpdateProfileInput) input: UpdateProfileInput,
    @Ctx() ctx: Context,
  ): Promise<User> {
    return this.services.accounts.updateProfile(ctx.em, signedIn(ctx), input);
  }

  @Mutation(() => Boolean, { description: 'Revokes the caller’s other sessions' })
  changePassword(
    @Arg('input', () => ChangePasswordInput) input: ChangePasswordInput,
    @Ctx() ctx: Context,
  ): Promise<boolean> {
    return this.services.accounts.changePassword(ctx.em, signedIn(ctx), input);
  }
}
