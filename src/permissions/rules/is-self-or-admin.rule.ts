import { rule } from 'graphql-shield';
import type { Context } from '../../context';
import { Role } from '../../entities/enums';
import { ForbiddenError } from '../../errors';

/** On a User field: the user themself, or an ADMIN signed in with an access token. */
export const isSelfOrAdmin = rule({ cache: 'strict' })((
  parent: { id: string },
  _args,
  ctx: Context,
) => {
  const v = ctx.viewer;
  if (v.kind !== 'user') return false;
  if (parent.id === v.account.id) return true;
  if (v.via === 'jwt' && v.account.role === Role.ADMIN) return true;
  return new ForbiddenError('Only the user or an admin can see this');
});
