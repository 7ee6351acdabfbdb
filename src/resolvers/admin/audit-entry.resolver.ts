import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { Context } from '../../context';
import { AuditEntry, User } from '../../entities';

@Resolver(() => AuditEntry)
export class AuditEntryResolver {
  @FieldResolver(() => User, { nullable: true, description: 'The admin; null if since deleted' })
  actor(
    @Root() entry: Pick<AuditEntry, 'actor'>,
    @Ctx() ctx: Context,
  ): Promise<User | null> | null {
    return entry.actor ? ctx.loaders.user.load(entry.actor.id) : null;
  }
}
