import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { signedIn } from '../../auth/require-viewer';
import type { Context } from '../../context';
import { ApiKey } from '../../entities';
import type { Services } from '../../services';
import { ApiKeyCreated, CreateApiKeyInput } from './api-key.types';

@Resolver()
export class ApiKeyResolver {
  constructor(private readonly services: Services) {}

  @Query(() => [ApiKey], {
    description: 'The caller’s keys, newest first; signed in with a JWT only',
  })
  apiKeys(@Ctx() ctx: Context): Promise<ApiKey[]> {
    return this.services.apiKeys.list(ctx.em, signedIn(ctx));
  }

  @Mutation(() => ApiKeyCreated, { description: 'Signed in with a JWT only' })
  createApiKey(
    @Arg('input', () => CreateApiKeyInput, {
      description: 'Name, scopes and expiry; at most 50 active keys per user (CONFLICT beyond)',
    })
    input: CreateApiKeyInput,
    @Ctx() ctx: Context,
  ): Promise<ApiKeyCreated> {
    return this.services.apiKeys.create(ctx.em, signedIn(ctx), input);
  }

  @Mutation(() => ApiKey, { description: 'Signed in with a JWT only; the key stops at once' })
  revokeApiKey(
    @Arg('id', () => ID, { description: 'An own key’s id; any other answers NOT_FOUND' })
    id: string,
    @Ctx() ctx: Context,
  ): Promise<ApiKey> {
    return this.services.apiKeys.revoke(ctx.em, signedIn(ctx), id);
  }
}
