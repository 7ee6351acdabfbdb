import { rule } from 'graphql-shield';
import type { Context } from '../../context';
import { ForbiddenError } from '../../errors';

/**
 * On UsageRecord.apiKey: a signed-in user sees any of their keys; an API key sees only itself,
 * never its owner's other keys (listing keys is for signed-in users only).
 */
export const isOwnKeyOrJwt = rule({ cache: 'strict' })((
  parent: { apiKey: { id: string } | null },
  _args,
  ctx: Context,
) => {
  const v = ctx.viewer;
  if (v.kind !== 'user') return false;
  if (v.via === 'jwt' || parent.apiKey === null || parent.apiKey.id === v.apiKeyId) return true;
  return new ForbiddenError('An API key can only see itself');
});
