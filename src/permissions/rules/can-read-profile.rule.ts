import { rule } from 'graphql-shield';
import type { Context } from '../../context';
import type { ApiKeyScope } from '../../entities/enums';
import { ForbiddenError } from '../../errors';

const rules = new Map<ApiKeyScope, ReturnType<typeof build>>();

function build(scope: ApiKeyScope) {
  return rule(`canReadProfile:${scope}`, { cache: 'contextual' })(
    (_parent, _args, ctx: Context) => {
      const v = ctx.viewer;
      if (v.kind !== 'user' || v.via === 'jwt' || v.scopes.has(scope)) return true;
      return new ForbiddenError(`This API key lacks the ${scope} scope`, { requiredScope: scope });
    },
  );
}

/**
 * On a User's profile fields: an API key needs `scope` (TASKS_READ, the scope of `me`: see
 * ../field-scopes.ts) however it reached the user, e.g. through UsageRecord.user. Signed-in
 * users pass, and so do anonymous callers, who reach a User only as the AuthPayload of their
 * own register or login.
 */
export function canReadProfile(scope: ApiKeyScope) {
  let r = rules.get(scope);
  if (!r) rules.set(scope, (r = build(scope)));
  return r;
}
