import { randomBytes } from 'node:crypto';
import type { TestApp } from './create-test-app';
import { expectNoErrors } from './graphql';
import {
  SeedApiKeyDocument,
  SeedLoginDocument,
  SeedPlanDocument,
  SeedPromoteDocument,
  SeedRegisterDocument,
  SeedTaskDocument,
  type ApiKeyScope,
  type CreateTaskInput,
  type PlanTier,
} from './graphql-types';
import { TEST_ADMIN } from './test-config';

export interface SeededUser {
  id: string;
  email: string;
  password: string;
  name: string;
  accessToken: string;
  refreshToken: string;
}

let counter = 0;
export function unique(prefix = 'u'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${randomBytes(3).toString('hex')}`;
}

/** Fixtures through the public API, with unique values so test files can run in parallel. */
export class Seed {
  constructor(private readonly t: TestApp) {}

  async user(
    opts: { plan?: PlanTier; name?: string; password?: string } = {},
  ): Promise<SeededUser> {
    const email = `${unique()}@example.com`;
    const password = opts.password ?? 'correct-horse-battery';
    const name = opts.name ?? 'Test User';
    const data = expectNoErrors(
      await this.t.gql(SeedRegisterDocument, { input: { email, password, name } }),
    );
    const user: SeededUser = {
      id: data.register.user.id,
      email,
      password,
      name,
      accessToken: data.register.accessToken,
      refreshToken: data.register.refreshToken,
    };
    if (opts.plan && opts.plan !== 'FREE') await this.plan(user, opts.plan);
    return user;
  }

  /** The seeded first admin, signed in afresh. */
  async admin(): Promise<SeededUser> {
    const data = expectNoErrors(await this.t.gql(SeedLoginDocument, { input: TEST_ADMIN }));
    return {
      id: data.login.user.id,
      email: TEST_ADMIN.email,
      password: TEST_ADMIN.password,
      name: data.login.user.name,
      accessToken: data.login.accessToken,
      refreshToken: data.login.refreshToken,
    };
  }

  /** A second admin: a new user promoted by the seeded admin. */
  async newAdmin(): Promise<SeededUser> {
    const user = await this.user();
    const admin = await this.admin();
    expectNoErrors(await this.t.gql(SeedPromoteDocument, { id: user.id }, admin.accessToken));
    return user;
  }

  async plan(user: SeededUser, tier: PlanTier): Promise<void> {
    expectNoErrors(await this.t.gql(SeedPlanDocument, { tier }, user.accessToken));
  }

  async task(user: SeededUser, input: Partial<CreateTaskInput> = {}): Promise<{ id: string }> {
    const data = expectNoErrors(
      await this.t.gql(
        SeedTaskDocument,
        { input: { title: unique('task'), ...input } },
        user.accessToken,
      ),
    );
    return data.createTask;
  }

  async apiKey(
    user: SeededUser,
    scopes: ApiKeyScope[],
    expiresAt?: string,
  ): Promise<{ id: string; secret: string }> {
    const data = expectNoErrors(
      await this.t.gql(
        SeedApiKeyDocument,
        { input: { name: unique('key'), scopes, ...(expiresAt ? { expiresAt } : {}) } },
        user.accessToken,
      ),
    );
    return { id: data.createApiKey.apiKey.id, secret: data.createApiKey.secret };
  }
}
