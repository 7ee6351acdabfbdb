import { randomUUID } from 'node:crypto';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors, untyped } from '../helpers/graphql';
import {
  AdminUserDocument,
  AdminUserWithPlanAndTasksDocument,
  AdminUsersDocument,
  AuditLogDocument,
  MyRoleDocument,
  SetUserActiveDocument,
  SetUserRoleDocument,
} from '../helpers/graphql-types';
import { unique, type SeededUser } from '../helpers/seed';
import { auditFor, call, setActive, setRole } from './admin-fixtures';

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

describe('users and user', () => {
  it('pages newest first with totalCount, and filters by search (case-insensitive, literal), role and isActive', async () => {
    const token = unique('zq').toLowerCase();
    const u1 = await t.seed.user({ name: `Member ${token} one` });
    const u2 = await t.seed.user({ name: `Member ${token} two` });
    const u3 = await t.seed.user({ name: `Member ${token} three` });
    const users = async (variables: Record<string, unknown>) =>
      expectNoErrors(await call(t, AdminUsersDocument, variables, admin.accessToken)).users;
    const ids = (conn: any) => conn.nodes.map((n: any) => n.id);

    const page1 = await users({ first: 2, filter: { search: token.toUpperCase() } });
    expect(page1.totalCount).toBe(3);
    expect(ids(page1)).toEqual([u3.id, u2.id]);
    expect(page1.edges.map((e: any) => e.node.id)).toEqual([u3.id, u2.id]);
    expect(page1.edges[0].node).toMatchObject({
      email: u3.email,
      name: `Member ${token} three`,
      role: 'USER',
      isActive: true,
    });
    expect(page1.pageInfo).toEqual({
      hasNextPage: true,
      hasPreviousPage: false,
      startCursor: page1.edges[0].cursor,
      endCursor: page1.edges[1].cursor,
    });
    const page2 = await users({
      first: 2,
      after: page1.pageInfo.endCursor,
      filter: { search: token },
    });
    expect(page2.totalCount).toBe(3);
    expect(ids(page2)).toEqual([u1.id]);
    expect(page2.pageInfo.hasNextPage).toBe(false);
    expect(page2.pageInfo.hasPreviousPage).toBe(true);

    // Email matches too; LIKE wildcards in the search are literal characters.
    expect(ids(await users({ filter: { search: u2.email.toUpperCase() } }))).toEqual([u2.id]);
    expect((await users({ filter: { search: `${token}%` } })).totalCount).toBe(0);
    expect((await users({ filter: { search: `Member_${token.slice(1)}` } })).totalCount).toBe(0);

    expectNoErrors(await setRole(t, admin.accessToken, u1.id, 'ADMIN'));
    expectNoErrors(await setActive(t, admin.accessToken, u2.id, false));
    const by = async (filter: Record<string, unknown>) => {
      const conn = await users({ filter: { search: token, ...filter } });
      expect(conn.totalCount).toBe(conn.nodes.length);
      return ids(conn);
    };
    expect(await by({ role: 'ADMIN' })).toEqual([u1.id]);
    expect(await by({ role: 'USER' })).toEqual([u3.id, u2.id]);
    expect(await by({ isActive: false })).toEqual([u2.id]);
    expect(await by({ isActive: true })).toEqual([u3.id, u1.id]);
    expect(await by({ role: 'USER', isActive: true })).toEqual([u3.id]);
    expect(await by({ role: 'ADMIN', isActive: false })).toEqual([]);
    expectNoErrors(await setRole(t, admin.accessToken, u1.id, 'USER'));
  });

  it.each([
    [{ first: 0 }, 'first'],
    [{ first: 101 }, 'first'],
    [{ after: 'not-a-cursor' }, 'after'],
    [{ filter: { search: '' } }, 'search'],
    [{ filter: { search: 's'.repeat(201) } }, 'search'],
    [{ filter: { search: 'a\u0000b' } }, 'search'],
  ])('refuses %j with BAD_USER_INPUT', async (variables, field) => {
    const err = expectErrorCode(
      await call(t, AdminUsersDocument, variables, admin.accessToken),
      'BAD_USER_INPUT',
    );
    expect(err.extensions?.fields.join(' ')).toContain(field);
  });

  it('user(id) answers the account with its plan and tasks for an admin, null for an unknown id, BAD_USER_INPUT for a malformed one', async () => {
    const u = await t.seed.user({ plan: 'PRO', name: 'Pro Member' });
    const task = await t.seed.task(u, { title: 'Quarterly report' });
    const res = expectNoErrors(
      await call(t, AdminUserWithPlanAndTasksDocument, { id: u.id }, admin.accessToken),
    );
    expect(res.user).toEqual({
      id: u.id,
      email: u.email,
      name: 'Pro Member',
      role: 'USER',
      isActive: true,
      subscription: { plan: { tier: 'PRO' } },
      tasks: { totalCount: 1, nodes: [{ id: task.id, title: 'Quarterly report' }] },
    });
    const none = await call(t, AdminUserDocument, { id: randomUUID() }, admin.accessToken);
    expect(none.errors).toBeUndefined();
    expect(none.data).toEqual({ user: null });
    const bad = expectErrorCode(
      await call(t, AdminUserDocument, { id: 'not-a-uuid' }, admin.accessToken),
      'BAD_USER_INPUT',
    );
    expect(bad.extensions?.fields).toEqual(['id']);
    for (const [query, vars] of [
      [`mutation($id: ID!) { setUserRole(userId: $id, role: USER) { id } }`, { id: 'x' }],
      [`mutation($id: ID!) { setUserActive(userId: $id, active: true) { id } }`, { id: 'x' }],
    ] as const) {
      const err = expectErrorCode(await call(t, query, vars, admin.accessToken), 'BAD_USER_INPUT');
      expect(err.extensions?.fields).toEqual(['userId']);
    }
  });
});

describe('admin fields refuse everyone else', () => {
  const operations: [string, string, (target: string) => Record<string, unknown>][] = [
    ['users', untyped(AdminUsersDocument), () => ({})],
    ['user', untyped(AdminUserDocument), (id) => ({ id })],
    ['auditLog', untyped(AuditLogDocument), () => ({})],
    ['setUserRole', untyped(SetUserRoleDocument), (id) => ({ id, role: 'ADMIN' })],
    ['setUserActive', untyped(SetUserActiveDocument), (id) => ({ id, active: false })],
  ];

  let u: SeededUser;
  let target: SeededUser;
  beforeAll(async () => {
    u = await t.seed.user();
    target = await t.seed.user();
  });

  it.each(operations)(
    '%s: FORBIDDEN for a normal user, UNAUTHENTICATED anonymously, and nothing changes',
    async (name, query, variables) => {
      const forbidden = await call(t, query, variables(target.id), u.accessToken);
      expectErrorCode(forbidden, 'FORBIDDEN');
      // Nothing of the field leaks: null data, or null for a nullable field.
      expect(forbidden.data ?? { [name]: null }).toEqual({ [name]: null });
      const anonymous = await call(t, query, variables(target.id));
      expectErrorCode(anonymous, 'UNAUTHENTICATED');
      expect(anonymous.data ?? { [name]: null }).toEqual({ [name]: null });
      expect(
        expectNoErrors(await call(t, AdminUserDocument, { id: target.id }, admin.accessToken)).user,
      ).toMatchObject({ role: 'USER', isActive: true });
      expect(await auditFor(t, admin.accessToken, target.id)).toEqual([]);
      expectNoErrors(await call(t, MyRoleDocument, {}, target.accessToken));
    },
  );
});
