import { randomUUID } from 'node:crypto';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors } from '../helpers/graphql';
import {
  AdminUsersDocument,
  AuditLogDocument,
  LoginTokensDocument,
  MyRoleDocument,
  RefreshTokenDocument,
} from '../helpers/graphql-types';
import type { SeededUser } from '../helpers/seed';
import { auditFor, call, setActive, setRole } from './admin-fixtures';
import { TEST_ADMIN } from '../helpers/test-config';

let t: TestApp;
/** The seeded admin, signed in once for the whole file. */
let admin: SeededUser;
beforeAll(async () => {
  t = await startTestApp();
  admin = await t.seed.admin();
});
afterAll(async () => {
  await t.close();
});

describe('setUserRole and setUserActive', () => {
  it('setUserRole changes the role and writes user.setRole entries with before, after and the actor', async () => {
    const actor = await t.seed.newAdmin();
    const u = await t.seed.user();
    const promoted = expectNoErrors(await setRole(t, actor.accessToken, u.id, 'ADMIN'));
    expect(promoted.setUserRole).toEqual({ id: u.id, role: 'ADMIN', isActive: true });
    const demoted = expectNoErrors(await setRole(t, actor.accessToken, u.id, 'USER'));
    expect(demoted.setUserRole).toEqual({ id: u.id, role: 'USER', isActive: true });

    const entries = await auditFor(t, actor.accessToken, u.id);
    expect(entries).toHaveLength(2);
    expect(entries.map((e) => [e.action, e.targetType, e.details])).toEqual([
      [
        'user.setRole',
        'User',
        { before: { role: 'ADMIN', isActive: true }, after: { role: 'USER', isActive: true } },
      ],
      [
        'user.setRole',
        'User',
        { before: { role: 'USER', isActive: true }, after: { role: 'ADMIN', isActive: true } },
      ],
    ]);
    for (const entry of entries) {
      expect(entry.actor).toEqual({ id: actor.id, email: actor.email, role: 'ADMIN' });
      expect(Math.abs(new Date(entry.createdAt).getTime() - Date.now())).toBeLessThan(60_000);
    }
    // The actor's own promotion is recorded with the seeded admin as its actor.
    const [own] = await auditFor(t, actor.accessToken, actor.id);
    expect(own).toMatchObject({
      action: 'user.setRole',
      actor: { email: TEST_ADMIN.email },
      details: { before: { role: 'USER' }, after: { role: 'ADMIN' } },
    });
  });

  it('setUserActive changes activation and writes user.setActive entries with before, after and the actor', async () => {
    const actor = await t.seed.newAdmin();
    const u = await t.seed.user();
    expect(
      expectNoErrors(await setActive(t, actor.accessToken, u.id, false)).setUserActive,
    ).toEqual({ id: u.id, role: 'USER', isActive: false });
    expect(expectNoErrors(await setActive(t, actor.accessToken, u.id, true)).setUserActive).toEqual(
      { id: u.id, role: 'USER', isActive: true },
    );
    const entries = await auditFor(t, actor.accessToken, u.id);
    expect(entries.map((e) => [e.action, e.details, e.actor!.id])).toEqual([
      [
        'user.setActive',
        { before: { role: 'USER', isActive: false }, after: { role: 'USER', isActive: true } },
        actor.id,
      ],
      [
        'user.setActive',
        { before: { role: 'USER', isActive: true }, after: { role: 'USER', isActive: false } },
        actor.id,
      ],
    ]);
  });

  it('answers NOT_FOUND for an unknown user id and BAD_USER_INPUT for a malformed one', async () => {
    expectErrorCode(await setRole(t, admin.accessToken, randomUUID(), 'ADMIN'), 'NOT_FOUND');
    expectErrorCode(await setRole(t, admin.accessToken, 'nope', 'ADMIN'), 'BAD_USER_INPUT');
    expectErrorCode(await setActive(t, admin.accessToken, randomUUID(), false), 'NOT_FOUND');
    expectErrorCode(await setActive(t, admin.accessToken, 'nope', false), 'BAD_USER_INPUT');
  });

  it('auditLog pages newest first with totalCount', async () => {
    const actor = await t.seed.newAdmin();
    const u = await t.seed.user();
    expectNoErrors(await setActive(t, actor.accessToken, u.id, false));
    const first = expectNoErrors(
      await call(t, AuditLogDocument, { first: 1 }, actor.accessToken),
    ).auditLog;
    expect(first.nodes).toHaveLength(1);
    expect(first.totalCount).toBeGreaterThanOrEqual(2);
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const second = expectNoErrors(
      await call(
        t,
        AuditLogDocument,
        { first: 1, after: first.pageInfo.endCursor },
        actor.accessToken,
      ),
    ).auditLog;
    expect(second.nodes).toHaveLength(1);
    expect(second.nodes[0].id).not.toBe(first.nodes[0].id);
    expect(new Date(second.nodes[0].createdAt).getTime()).toBeLessThanOrEqual(
      new Date(first.nodes[0].createdAt).getTime(),
    );
    expect(second.pageInfo.hasPreviousPage).toBe(true);
  });
});

describe('deactivation and role changes apply at the next request', () => {
  it('a deactivated user’s access token, refresh token and API key stop and login is refused; after reactivation login and the API key work again, the old sessions stay ended', async () => {
    const u = await t.seed.user();
    const key = await t.seed.apiKey(u, ['TASKS_READ']);
    expectNoErrors(await call(t, MyRoleDocument, {}, u.accessToken));
    expectNoErrors(await call(t, MyRoleDocument, {}, key.secret));

    expectNoErrors(await setActive(t, admin.accessToken, u.id, false));
    expectErrorCode(await call(t, MyRoleDocument, {}, u.accessToken), 'UNAUTHENTICATED');
    expectErrorCode(await call(t, MyRoleDocument, {}, key.secret), 'UNAUTHENTICATED');
    expectErrorCode(await call(t, RefreshTokenDocument, { t: u.refreshToken }), 'UNAUTHENTICATED');
    const refused = expectErrorCode(
      await call(t, LoginTokensDocument, { i: { email: u.email, password: u.password } }),
      'UNAUTHENTICATED',
    );
    const wrong = expectErrorCode(
      await call(t, LoginTokensDocument, { i: { email: u.email, password: 'not-the-password' } }),
      'UNAUTHENTICATED',
    );
    // A deactivated account is not told apart from a wrong password.
    expect(refused.message).toBe(wrong.message);

    expectNoErrors(await setActive(t, admin.accessToken, u.id, true));
    const login = expectNoErrors(
      await call(t, LoginTokensDocument, { i: { email: u.email, password: u.password } }),
    ).login;
    expect(expectNoErrors(await call(t, MyRoleDocument, {}, login.accessToken)).me).toEqual({
      id: u.id,
      role: 'USER',
      isActive: true,
    });
    // Deactivation ended the sessions for good; keys were only suspended.
    expectErrorCode(await call(t, MyRoleDocument, {}, u.accessToken), 'UNAUTHENTICATED');
    expectErrorCode(await call(t, RefreshTokenDocument, { t: u.refreshToken }), 'UNAUTHENTICATED');
    expect(expectNoErrors(await call(t, MyRoleDocument, {}, key.secret)).me.id).toBe(u.id);
  });

  it('a deactivated admin loses admin access at the next request', async () => {
    const other = await t.seed.newAdmin();
    expectNoErrors(await call(t, AdminUsersDocument, { first: 1 }, other.accessToken));
    expectNoErrors(await setActive(t, admin.accessToken, other.id, false));
    expectErrorCode(
      await call(t, AdminUsersDocument, { first: 1 }, other.accessToken),
      'UNAUTHENTICATED',
    );
  });

  it('a user promoted to ADMIN can call users with their existing token; once demoted they cannot; their API key never can', async () => {
    const u = await t.seed.user();
    const key = await t.seed.apiKey(u, ['TASKS_READ', 'TASKS_WRITE', 'TOOLS_INVOKE', 'USAGE_READ']);
    expectErrorCode(await call(t, AdminUsersDocument, { first: 1 }, u.accessToken), 'FORBIDDEN');
    expectNoErrors(await setRole(t, admin.accessToken, u.id, 'ADMIN'));
    const seen = expectNoErrors(
      await call(t, AdminUsersDocument, { first: 1, filter: { search: u.email } }, u.accessToken),
    ).users;
    expect(seen.nodes).toEqual([{ id: u.id }]);
    expect(seen.edges[0].node.role).toBe('ADMIN');
    expect(expectNoErrors(await call(t, MyRoleDocument, {}, u.accessToken)).me.role).toBe('ADMIN');
    expectErrorCode(await call(t, AdminUsersDocument, { first: 1 }, key.secret), 'FORBIDDEN');
    expectNoErrors(await setRole(t, admin.accessToken, u.id, 'USER'));
    expectErrorCode(await call(t, AdminUsersDocument, { first: 1 }, u.accessToken), 'FORBIDDEN');
    expect(expectNoErrors(await call(t, MyRoleDocument, {}, u.accessToken)).me.role).toBe('USER');
  });
});
