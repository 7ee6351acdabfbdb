import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { PasswordHasher } from '../../auth/passwords';
import { type AccessTokens, randomSecret, sha256 } from '../../auth/tokens';
import type { SignedInViewer } from '../../auth/viewer';
import { AuthSession, RefreshToken, Subscription, User } from '../../entities';
import { PlanTier } from '../../entities/enums';
import {
  BadUserInputError,
  ConflictError,
  NotFoundError,
  UnauthenticatedError,
} from '../../errors';
import { type Clock, monthOf } from '../../lib/clock';
import type { RateLimiter } from '../../lib/rate-limit';
import type { AuthPayload } from './auth-payload.type';
import type {
  ChangePasswordInput,
  LoginInput,
  RegisterInput,
  UpdateProfileInput,
} from './account.inputs';
import { normalizeEmail } from '../../lib/text';

export class AccountService {
  constructor(
    private readonly passwords: PasswordHasher,
    private readonly accessTokens: AccessTokens,
    private readonly refreshTtlDays: number,
    private readonly clock: Clock,
    private readonly rateLimiter: RateLimiter,
    /**
     * Attempts a minute: sign-ins (login, register) per client address and per email; refresh
     * exchanges per client address in a budget of their own, much larger (a refresh token is a
     * 256-bit secret nobody can guess, and an office behind one NAT address refreshes a lot).
     */
    private readonly limits: { perAddress: number; perEmail: number; refreshPerAddress: number },
  ) {}

  /**
   * Creates the account on FREE and signs it in, all in one transaction. The hash comes first: a
   * registration refused by a full hashing queue has written nothing.
   */
  async register(em: EntityManager, input: RegisterInput, address: string): Promise<AuthPayload> {
    const slot = this.passwords.reserve();
    let passwordHash: string;
    try {
      await this.rateLimiter.consume('auth', address, this.limits.perAddress);
      passwordHash = await slot.hash(input.password);
    } finally {
      slot.release();
    }
    const email = normalizeEmail(input.email);
    try {
      return await em.transactional(async (tx) => {
        const now = this.clock.now();
        const user = tx.create(User, {
          email,
          name: input.name.trim(),
          passwordHash,
          createdAt: now,
          updatedAt: now,
        });
        tx.create(Subscription, {
          user,
          tier: PlanTier.FREE,
          periodStart: monthOf(now).start,
          createdAt: now,
          updatedAt: now,
        });
        return this.startSession(tx, user, now);
      });
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) {
        throw new ConflictError('An account with this email already exists');
      }
      throw err;
    }
  }

  /**
   * Same error, after the same bcrypt work, for an unknown email and a wrong password. A place in
   * the hashing queue is taken first: a sign-in refused because the queue is full has not spent
   * the address's or the email's budget (retrying it later is not a guess).
   */
  async login(em: EntityManager, input: LoginInput, address: string): Promise<AuthPayload> {
    const slot = this.passwords.reserve();
    let user: User | null;
    let ok: boolean;
    try {
      // Before any bcrypt work: guessing passwords, or burning CPU with logins, is refused here.
      await this.rateLimiter.consume('auth', address, this.limits.perAddress);
      await this.rateLimiter.consume('login', normalizeEmail(input.email), this.limits.perEmail);
      user = await em.findOne(User, { email: normalizeEmail(input.email) });
      ok = await slot.verify(input.password, user?.passwordHash ?? null);
    } finally {
      slot.release();
    }
    if (!user || !ok || !user.isActive) {
      throw new UnauthenticatedError('Invalid email or password');
    }
    return em.transactional((tx) => this.startSession(tx, tx.merge(user), this.clock.now()));
  }

  /**
   * Rotates a refresh token. A token presented a second time means it leaked (or the client
   * raced itself): the whole session, every token descended from that login, is revoked.
   */
  async refresh(em: EntityManager, token: string, address: string): Promise<AuthPayload> {
    await this.rateLimiter.consume('refresh', address, this.limits.refreshPerAddress);
    const invalid = () => new UnauthenticatedError('Invalid or expired refresh token');
    if (token.length < 20 || token.length > 200) throw invalid();
    const now = this.clock.now();
    const sessions = em.getRepository(AuthSession);
    const found = await sessions.refreshToken(sha256(token));
    if (!found || found.sessionRevokedAt || !found.userActive) throw invalid();
    if (found.usedAt) {
      await sessions.revoke(found.sessionId, now);
      throw invalid();
    }
    if (found.expiresAt.getTime() <= now.getTime()) throw invalid();

    const rotated = await em.transactional(async (tx) => {
      if (!(await tx.getRepository(AuthSession).claimRefreshToken(found.id, now))) return null;
      const user = await tx.findOneOrFail(User, { id: found.userId });
      return this.issueTokens(tx, user, found.sessionId, now);
    });
    if (!rotated) {
      // Lost a race with another use of the same token: that is reuse too.
      await sessions.revoke(found.sessionId, now);
      throw invalid();
    }
    return rotated;
  }

  /** Ends the session of `refreshToken` if it is the caller's; false otherwise. */
  async logout(em: EntityManager, viewer: SignedInViewer, refreshToken: string): Promise<boolean> {
    return em
      .getRepository(AuthSession)
      .revokeByRefreshToken(viewer.account.id, sha256(refreshToken), this.clock.now());
  }

  async logoutAll(em: EntityManager, viewer: SignedInViewer): Promise<boolean> {
    await em.getRepository(AuthSession).revokeAll(viewer.account.id, this.clock.now());
    return true;
  }

  async updateProfile(
    em: EntityManager,
    viewer: SignedInViewer,
    input: UpdateProfileInput,
  ): Promise<User> {
    const user = await em.findOne(User, { id: viewer.account.id });
    if (!user) throw new NotFoundError('User');
    const name = input.name?.trim();
    if (name !== undefined && name !== user.name) {
      user.name = name;
      user.updatedAt = this.clock.now();
    }
    await em.flush();
    return user;
  }

  /** Changes the password and revokes every session but the caller's current one. */
  async changePassword(
    em: EntityManager,
    viewer: SignedInViewer,
    input: ChangePasswordInput,
  ): Promise<boolean> {
    // One place in the hashing queue for both hashes, taken before anything else (as in login).
    const slot = this.passwords.reserve();
    let user: User | null;
    let passwordHash: string;
    try {
      // A stolen access token must not become unlimited guesses at the password (nor bcrypt
      // work): the same budget as signing in with the account's email.
      await this.rateLimiter.consume('password', viewer.account.id, this.limits.perEmail);
      user = await em.findOne(User, { id: viewer.account.id });
      if (!user) throw new NotFoundError('User');
      if (!(await slot.verify(input.currentPassword, user.passwordHash))) {
        throw new BadUserInputError('currentPassword is wrong', ['currentPassword']);
      }
      passwordHash = await slot.hash(input.newPassword);
    } finally {
      slot.release();
    }
    const keep = viewer.via === 'jwt' ? viewer.sessionId : null;
    const now = this.clock.now();
    await em.transactional(async (tx) => {
      await tx.getRepository(User).setPasswordHash(user.id, passwordHash, now);
      await tx.getRepository(AuthSession).revokeOthers(user.id, keep, now);
    });
    return true;
  }

  private async startSession(tx: EntityManager, user: User, now: Date): Promise<AuthPayload> {
    const session = tx.create(AuthSession, { user, createdAt: now });
    return this.issueTokens(tx, user, session.id, now);
  }

  private async issueTokens(
    tx: EntityManager,
    user: User,
    sessionId: string,
    now: Date,
  ): Promise<AuthPayload> {
    const refreshToken = randomSecret(32);
    tx.create(RefreshToken, {
      session: tx.getReference(AuthSession, sessionId),
      tokenHash: sha256(refreshToken),
      expiresAt: new Date(now.getTime() + this.refreshTtlDays * 86_400_000),
      createdAt: now,
    });
    await tx.flush();
    const access = this.accessTokens.sign(user.id, sessionId);
    return {
      accessToken: access.token,
      refreshToken,
      accessTokenExpiresAt: access.expiresAt,
      user,
    };
  }
}
