import { rule } from 'graphql-shield';
import type { Context } from '../../context';
import type { ApiKeyScope } from '../../entities/enums';
import { ForbiddenError } from '../../errors';

const rules = new Map<ApiKeyScope, ReturnType<typeof build>>();

function build(scope: ApiKeyScope) {
  return rule(`hasScope:${scope}`, { cache: 'contextual' })((_parent, _args, ctx: Context) => {
    const v = ctx.viewer;
    if (v.kind !== 'user') return false;
    if (v.via === 'jwt' || v.scopes.has(scope)) return true;
    return new ForbiddenError(`This API key lacks the ${scope} scope`, { requiredScope: scope });
  });
}

/** Signed in with an access token, or with an API key that carries `scope`. */
export function hasScope(scope: ApiKeyScope) {
  let r = rules.get(scope);
  if (!r) rules.set(scope, (r = build(scope)));
  return r;
}
