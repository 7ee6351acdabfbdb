import { rule } from 'graphql-shield';
import type { Context } from '../../context';
import type { ApiKeyScope } from '../../entities/enums';
import { ForbiddenError } from '../../errors';

const rules = new Map<string, ReturnType<typeof build>>();

function build(scope: ApiKeyScope, anonymousPasses: boolean) {
  const name = `${anonymousPasses ? 'hasScopeOrAnonymous' : 'hasScope'}:${scope}`;
  return rule(name, { cache: 'contextual' })((_parent, _args, ctx: Context) => {
    const v = ctx.viewer;
    if (v.kind !== 'user') return anonymousPasses;
    if (v.via === 'jwt' || v.scopes.has(scope)) return true;
    return new ForbiddenError(`This API key lacks the ${scope} scope`, { requiredScope: scope });
  });
}

/**
 * Signed in with an access token, or with an API key that carries `scope`. With
 * `anonymousPasses`, an anonymous caller passes too: a User's profile fields, which anonymous
 * callers reach only as the AuthPayload of their own register or login, while an API key needs
 * the scope (TASKS_READ, `me`'s: ../field-scopes.ts) however it reached the user.
 */
export function hasScope(scope: ApiKeyScope, options: { anonymousPasses?: boolean } = {}) {
  const anonymousPasses = options.anonymousPasses ?? false;
  const key = `${anonymousPasses}:${scope}`;
  let r = rules.get(key);
  if (!r) rules.set(key, (r = build(scope, anonymousPasses)));
  return r;
}
