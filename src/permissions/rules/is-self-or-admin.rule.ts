import { rule } from 'graphql-shield';
import type { Context } from '../../context';
import { Role } from '../../entities/enums';
import { ForbiddenError } from '../../errors';

/**
 * On a User field: the user themself, or an ADMIN signed in with an access token. Not cached:
 * the check is two comparisons, while shield's strict cache would hash the parent and the
 * arguments with object-hash for every user of a page (a fifth of an admin page's CPU).
 */
export const isSelfOrAdmin = rule({ cache: 'no_cache' })((
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
