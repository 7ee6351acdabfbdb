import { UnauthenticatedError } from '../errors';
import type { Context } from '../context';
import type { SignedInViewer } from './viewer';

/**
 * The signed-in viewer. The shield has already refused anonymous callers on every field that
 * calls this; the check keeps the type honest, it is not the permission.
 */
export function signedIn(ctx: Context): SignedInViewer {
  if (ctx.viewer.kind !== 'user') throw new UnauthenticatedError();
  return ctx.viewer;
}
