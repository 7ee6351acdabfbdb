import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { PasswordHasher } from '../auth/passwords';
import { Subscription, User } from '../entities';
import { PlanTier, Role } from '../entities/enums';
import { monthOf, type Clock } from '../lib/clock';
import type { ToolService } from '../resolvers/tools/tool.service';

/**
 * What the product needs on first start: an admin when there is none, and the built-in tools.
 * Safe to run at every start and from instances starting together: it only adds what is
 * missing, inside `em`'s transaction, which holds the startup lock (src/db/migrate.ts).
 */
export async function seedInitialData(
  em: EntityManager,
  deps: {
    adminEmail: string;
    adminPassword: string | undefined;
    passwords: PasswordHasher;
    tools: ToolService;
    logger: Logger;
    /** The app's clock: the seeded admin's times. */
    clock: Clock;
  },
): Promise<void> {
  const added = await deps.tools.seedBuiltins(em);
  if (added > 0) deps.logger.info({ added }, 'seeded built-in tools');

  const admins = await em.count(User, { role: Role.ADMIN });
  if (admins > 0) return;
  const generated = deps.adminPassword === undefined;
  const password = deps.adminPassword ?? randomBytes(18).toString('base64url');
  const now = deps.clock.now();
  const admin = em.create(User, {
    email: deps.adminEmail,
    name: 'Administrator',
    passwordHash: await deps.passwords.hash(password),
    role: Role.ADMIN,
    createdAt: now,
    updatedAt: now,
  });
  em.create(Subscription, {
    user: admin,
    tier: PlanTier.ENTERPRISE,
    periodStart: monthOf(now).start,
    createdAt: now,
    updatedAt: now,
  });
  await em.flush();
  if (generated) {
    // The one secret the server ever prints: there is no other way to hand it over.
    deps.logger.warn(
      { adminEmail: deps.adminEmail, adminPassword: password },
      'created the first admin with a generated password: sign in and change it (printed once)',
    );
  } else {
    deps.logger.info({ adminEmail: deps.adminEmail }, 'created the first admin');
  }
}
