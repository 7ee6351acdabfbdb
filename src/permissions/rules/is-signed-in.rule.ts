import { rule } from 'graphql-shield';
import type { Context } from '../../context';
import { InvalidCredentialsError, UnauthenticatedError } from '../../errors';

/** A signed-in, active user: through a JWT access token or an API key. */
export const isSignedIn = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) => {
  if (ctx.viewer.kind === 'user') return true;
  return ctx.viewer.reason === 'invalid'
    ? new InvalidCredentialsError()
    : new UnauthenticatedError();
});
