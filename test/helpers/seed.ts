import { randomBytes } from 'node:crypto';
import type { TestApp } from './create-test-app';
import { expectNoErrors } from './graphql';
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

const AUTH = `accessToken refreshToken user { id email name }`;

/** Fixtures through the public API, with unique values so test files can run in parallel. */
export class Seed {
  constructor(private readonly t: TestApp) {}

  async user(
    opts: { plan?: 'FREE' | 'PRO' | 'ENTERPRISE'; name?: string; password?: string } = {},
  ): Promise<SeededUser> {
    const email = `${unique()}@example.com`;
    const password = opts.password ?? 'correct-horse-battery';
    const name = opts.name ?? 'Test User';
    const data = expectNoErrors(
      await this.t.gql<{ register: any }>(
        `mutation($input: RegisterInput!) { register(input: $input) { ${AUTH} } }`,
        { input: { email, password, name } },
      ),
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
    const data = expectNoErrors(
      await this.t.gql<{ login: any }>(
        `mutation($input: LoginInput!) { login(input: $input) { ${AUTH} } }`,
        { input: TEST_ADMIN },
      ),
    );
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
    expectNoErrors(
      await this.t.gql(
        `mutation($id: ID!) { setUserRole(userId: $id, role: ADMIN) { id } }`,
        { id: user.id },
        admin.accessToken,
      ),
    );
    return user;
  }

  async plan(user: SeededUser, tier: 'FREE' | 'PRO' | 'ENTERPRISE'): Promise<void> {
    expectNoErrors(
      await this.t.gql(
        `mutation($tier: PlanTier!) { changePlan(tier: $tier) { plan { tier } } }`,
        { tier },
        user.accessToken,
      ),
    );
  }

  async task(user: SeededUser, input: Record<string, unknown> = {}): Promise<{ id: string }> {
    const data = expectNoErrors(
      await this.t.gql<{ createTask: { id: string } }>(
        `mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }`,
        { input: { title: unique('task'), ...input } },
        user.accessToken,
      ),
    );
    return data.createTask;
  }

  async apiKey(
    user: SeededUser,
    scopes: string[],
    expiresAt?: string,
  ): Promise<{ id: string; secret: string }> {
    const data = expectNoErrors(
      await this.t.gql<{ createApiKey: { apiKey: { id: string }; secret: string } }>(
        `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } secret } }`,
        { input: { name: unique('key'), scopes, ...(expiresAt ? { expiresAt } : {}) } },
        user.accessToken,
      ),
    );
    return { id: data.createApiKey.apiKey.id, secret: data.createApiKey.secret };
  }
}
