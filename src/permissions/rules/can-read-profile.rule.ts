import { rule } from 'graphql-shield';
import type { Context } from '../../context';
import { ApiKeyScope } from '../../entities/enums';
import { ForbiddenError } from '../../errors';

/**
 * On a User's profile fields: an API key needs TASKS_READ (the scope of `me`) however it
 * reached the user, e.g. through UsageRecord.user. Signed-in users pass, and so do anonymous
 * callers, who reach a User only as the AuthPayload of their own register or login.
 */
export const canReadProfile = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) => {
  const v = ctx.viewer;
  if (v.kind !== 'user' || v.via === 'jwt' || v.scopes.has(ApiKeyScope.TASKS_READ)) return true;
  return new ForbiddenError('This API key lacks the TASKS_READ scope', {
    requiredScope: ApiKeyScope.TASKS_READ,
  });
});
