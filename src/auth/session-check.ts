import type { Context } from '../context';
import { User } from '../entities';
import { Role } from '../entities/enums';
import { InvalidCredentialsError, UnauthenticatedError } from '../errors';
import {
  INVALID_CREDENTIALS,
  type SignedInViewer,
  type Viewer,
  type ViewerAccount,
} from './viewer';

/**
 * The session check of a request, riding on its one statement.
 *
 * Every request checks its access token's session against the database (a logout, a
 * deactivation or a role change applies at the next request). Most requests do it up front, in
 * a statement of its own. A document whose only root field is `tasks` (the most frequent page,
 * see ../http/session-deferral.ts) does it inside the page's statement instead: the token's
 * signature and expiry are checked as always, the viewer starts `unverified`, and the `tasks`
 * resolver reads the page under the session check (TaskRepository.sessionPage), so that no row
 * is read, let alone returned, for a session that is gone. Nothing else of such a document runs
 * before that resolver has settled the viewer: its fields resolve below `tasks`.
 */
export function unverifiedViewer(userId: string, sessionId: string): Viewer {
  return {
    kind: 'user',
    via: 'jwt',
    // Only the id is known until the check: nothing reads the rest before it (see above).
    account: {
      id: userId,
      email: '',
      name: '',
      role: Role.USER,
      isActive: true,
      createdAt: new Date(0),
      updatedAt: new Date(0),
    },
    sessionId,
    unverified: true,
  };
}

/**
 * Settles an unverified viewer with what its check read: the account (the viewer is verified
 * from here on, and serves as the owner of its own tasks) or nothing (UNAUTHENTICATED, as a
 * revoked session answers up front).
 */
export function settleSession(ctx: Context, account: ViewerAccount | null): SignedInViewer {
  const viewer = ctx.viewer;
  if (viewer.kind !== 'user' || viewer.via !== 'jwt') throw new UnauthenticatedError();
  if (!account) throw new InvalidCredentialsError();
  const verified: SignedInViewer = {
    kind: 'user',
    via: 'jwt',
    account,
    sessionId: viewer.sessionId,
  };
  ctx.viewer = verified;
  ctx.loaders.user.prime(account.id, account as User);
  return verified;
}

/** The viewer's session has not been checked yet (it rides on the page's statement). */
export function isUnverified(viewer: Viewer): boolean {
  return viewer.kind === 'user' && viewer.via === 'jwt' && viewer.unverified === true;
}

/**
 * The session check in a statement of its own, as the request's context would have run it:
 * the viewer becomes the verified account, or, for a gone session, invalid credentials (an
 * anonymous viewer the permission rules refuse, exactly as up front).
 */
export async function verifySessionNow(ctx: Context): Promise<void> {
  const viewer = ctx.viewer;
  if (!isUnverified(viewer) || viewer.kind !== 'user' || viewer.via !== 'jwt') return;
  const account = await ctx.em
    .getRepository(User)
    .activeBySession(viewer.account.id, viewer.sessionId);
  if (account) settleSession(ctx, account);
  else ctx.viewer = INVALID_CREDENTIALS;
}

/**
 * For an unverified viewer whose request fails before its page is read (bad arguments): a gone
 * session answers UNAUTHENTICATED, as it would have up front, not the input error.
 */
export async function verifySession(ctx: Context): Promise<void> {
  if (!isUnverified(ctx.viewer)) return;
  await verifySessionNow(ctx);
  if (ctx.viewer.kind !== 'user') throw new InvalidCredentialsError();
}

/**
 * A type-graphql validateFn that checks an unverified viewer's session before refusing input.
 * Valid input it can tell at once answers at once (no promise).
 */
export function sessionBeforeInputErrors(
  validate: (value: unknown) => Promise<void> | undefined,
): (value: unknown, type: unknown, data: { context: object }) => Promise<void> | undefined {
  const refuse = async (err: unknown, ctx: Context): Promise<never> => {
    await verifySession(ctx);
    throw err;
  };
  return (value, _type, data) => {
    let pending: Promise<void> | undefined;
    try {
      pending = validate(value);
    } catch (err) {
      return refuse(err, data.context as Context);
    }
    return pending?.catch((err: unknown) => refuse(err, data.context as Context));
  };
}
