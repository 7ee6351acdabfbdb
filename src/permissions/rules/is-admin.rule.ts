import { rule } from 'graphql-shield';
import type { Context } from '../../context';
import { Role } from '../../entities/enums';
import { ForbiddenError } from '../../errors';

/** An ADMIN signed in with an access token; an admin's API key is never an admin. */
export const isAdmin = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) => {
  const v = ctx.viewer;
  if (v.kind === 'user' && v.via === 'jwt' && v.account.role === Role.ADMIN) return true;
  return new ForbiddenError('Only admins can do this');
});
