import { rule } from 'graphql-shield';
import type { Context } from '../../context';
import { ForbiddenError } from '../../errors';

/** Signed in with an access token: API keys never manage keys, sessions, profile or plans. */
export const isJwtUser = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) => {
  if (ctx.viewer.kind === 'user' && ctx.viewer.via === 'jwt') return true;
  return new ForbiddenError('This needs a signed-in user; API keys cannot do it');
});
