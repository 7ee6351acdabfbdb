import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createScratchDatabase } from '../helpers/scratch-database';
import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectErrorCode, expectNoErrors } from '../helpers/graphql';
import {
  AdminCountDocument,
  AdminUserDocument,
  AdminUsersDocument,
  AuditLogDocument,
  LoginTokensDocument,
  MyRoleDocument,
  RefreshTokenDocument,
} from '../helpers/graphql-types';
import type { SeededUser } from '../helpers/seed';
import { auditFor, call, setActive, setRole } from './admin-fixtures';

let t: TestApp;
/** The seeded admin, signed in once for the whole file. */
let admin: SeededUser;
/**
 * An app on a database of its own (see "in a database of its own"), started at once in the
 * background: creating and migrating an empty database takes seconds, meanwhile the tests on
 * the shared database run.
 */
let isolated: Promise<{ db: { url: string; drop(): Promise<void> }; app?: TestApp }>;
beforeAll(async () => {
  isolated = isolatedDatabase().then(async (db) => {
    try {
      return { db, app: await startTestApp({ databaseUrl: db.url }) };
    } catch (err) {
      await db.drop();
      throw err;
    }
  });
  isolated.catch(() => undefined);
  t = await startTestApp();
  admin = await t.seed.admin();
});
afterAll(async () => {
  await t.close();
  const started = await isolated.catch(() => null);
  await started?.app?.close();
  await started?.db.drop();
});

describe('the last active admin', () => {
  it('an admin may demote or deactivate themselves while another active admin remains (the seeded admin always does), audited with themselves as actor', async () => {
    const a = await t.seed.newAdmin();
    const b = await t.seed.newAdmin();
    expect(expectNoErrors(await setRole(t, a.accessToken, a.id, 'USER')).setUserRole).toEqual({
      id: a.id,
      role: 'USER',
      isActive: true,
    });
    expectErrorCode(await call(t, AdminUsersDocument, { first: 1 }, a.accessToken), 'FORBIDDEN');
    expect(expectNoErrors(await setActive(t, b.accessToken, b.id, false)).setUserActive).toEqual({
      id: b.id,
      role: 'ADMIN',
      isActive: false,
    });
    expectErrorCode(await call(t, MyRoleDocument, {}, b.accessToken), 'UNAUTHENTICATED');
    const [demotion] = await auditFor(t, admin.accessToken, a.id);
    expect(demotion).toMatchObject({ action: 'user.setRole', actor: { id: a.id } });
    const [deactivation] = await auditFor(t, admin.accessToken, b.id);
    expect(deactivation).toMatchObject({
      action: 'user.setActive',
      actor: { id: b.id },
      details: { before: { isActive: true }, after: { isActive: false } },
    });
  });

  /**
   * The shared test database always has the seeded admin, which must stay an active ADMIN for
   * the other test files, so "no other active admin" is only reachable in a database of its
   * own: a fresh one, migrated and seeded by its own app, where the seeded admin is alone.
   */
  describe('in a database of its own', () => {
    let iso: TestApp;
    let s: SeededUser;
    let a: SeededUser;
    const admins = async (token: string) =>
      expectNoErrors(await call(iso, AdminCountDocument, {}, token)).adminStats.admins;
    const auditCount = async (token: string) =>
      expectNoErrors(await call(iso, AuditLogDocument, { first: 1 }, token)).auditLog.totalCount;

    beforeAll(async () => {
      iso = (await isolated).app!;
      s = await iso.seed.admin();
    });

    it('refuses the only active admin demoting or deactivating themselves with CONFLICT: nothing changes, no audit entry, sessions kept', async () => {
      expect(await admins(s.accessToken)).toBe(1);
      const entries = await auditCount(s.accessToken);
      expectErrorCode(await setRole(iso, s.accessToken, s.id, 'USER'), 'CONFLICT');
      expectErrorCode(await setActive(iso, s.accessToken, s.id, false), 'CONFLICT');
      expect(
        expectNoErrors(await call(iso, AdminUserDocument, { id: s.id }, s.accessToken)).user,
      ).toMatchObject({ role: 'ADMIN', isActive: true });
      expect(await auditCount(s.accessToken)).toBe(entries);
      expect(await admins(s.accessToken)).toBe(1);
      // The refused deactivation did not end the admin's sessions either.
      const refreshed = expectNoErrors(
        await call(iso, RefreshTokenDocument, { t: s.refreshToken }),
      );
      s = { ...s, accessToken: refreshed.refreshToken.accessToken };
      expectNoErrors(await call(iso, MyRoleDocument, {}, s.accessToken));
      // Only removing the last admin is refused: setting the role it already has is not.
      expectNoErrors(await setRole(iso, s.accessToken, s.id, 'ADMIN'));
    });

    it('allows it once a second active admin exists, and then refuses that one', async () => {
      a = await iso.seed.newAdmin();
      expect(await admins(s.accessToken)).toBe(2);
      expectNoErrors(await setRole(iso, s.accessToken, s.id, 'USER'));
      expect(await admins(a.accessToken)).toBe(1);
      const entries = await auditCount(a.accessToken);
      expectErrorCode(await setActive(iso, a.accessToken, a.id, false), 'CONFLICT');
      expectErrorCode(await setRole(iso, a.accessToken, a.id, 'USER'), 'CONFLICT');
      expect(await auditCount(a.accessToken)).toBe(entries);
      // An inactive admin does not count: deactivate the demoted one as ADMIN, still refused.
      expectNoErrors(await setRole(iso, a.accessToken, s.id, 'ADMIN'));
      expectNoErrors(await setActive(iso, a.accessToken, s.id, false));
      expect(await admins(a.accessToken)).toBe(1);
      expectErrorCode(await setRole(iso, a.accessToken, a.id, 'USER'), 'CONFLICT');
      expectNoErrors(await setActive(iso, a.accessToken, s.id, true));
      expect(await admins(a.accessToken)).toBe(2);
      s = await iso.seed.admin();
    });

    it('two admins demoting themselves, or each other, at the same moment leave exactly one active admin', async () => {
      for (const round of ['themselves', 'each other'] as const) {
        expect(await admins(s.accessToken)).toBe(2);
        const results = await Promise.all(
          round === 'themselves'
            ? [
                setRole(iso, s.accessToken, s.id, 'USER'),
                setActive(iso, a.accessToken, a.id, false),
              ]
            : [
                setRole(iso, s.accessToken, a.id, 'USER'),
                setRole(iso, a.accessToken, s.id, 'USER'),
              ],
        );
        const ok = results.filter((r) => !r.errors);
        expect(ok).toHaveLength(1);
        expectErrorCode(results.find((r) => r.errors)!, 'CONFLICT');
        // Whoever is still an active admin says how many remain and repairs the state.
        const sLogin = await iso.seed.admin();
        const aLogin = await call(iso, LoginTokensDocument, {
          i: { email: a.email, password: a.password },
        });
        const candidates = [sLogin.accessToken, aLogin.data?.login.accessToken as string];
        let remaining = 0;
        let repairer: string | undefined;
        for (const token of candidates.filter(Boolean)) {
          const res = await call(iso, AdminCountDocument, {}, token);
          if (!res.errors) {
            remaining = res.data!.adminStats.admins;
            repairer = token;
          }
        }
        expect(remaining).toBe(1);
        expectNoErrors(await setActive(iso, repairer!, a.id, true));
        expectNoErrors(await setRole(iso, repairer!, a.id, 'ADMIN'));
        expectNoErrors(await setRole(iso, repairer!, s.id, 'ADMIN'));
        s = await iso.seed.admin();
        a = {
          ...a,
          ...expectNoErrors(
            await call(iso, LoginTokensDocument, { i: { email: a.email, password: a.password } }),
          ).login,
        };
      }
    });
  });
});

/**
 * A new, empty database: on the PostgreSQL server of DATABASE_URL when set (dropped after),
 * otherwise an in-memory PGlite served from a child process (jest's VM cannot load PGlite).
 * Creating an empty PGlite cluster takes seconds, so the child keeps one freshly initialised
 * (still empty) data directory in node_modules/.cache and starts from it the next time.
 */
async function isolatedDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (base) return createScratchDatabase(base, 'switchboard_test_admin');
  const root = resolve(__dirname, '../..');
  const { version } = JSON.parse(
    readFileSync(resolve(root, 'node_modules/@electric-sql/pglite/package.json'), 'utf8'),
  ) as { version: string };
  const cacheDir = resolve(root, 'node_modules/.cache/switchboard');
  mkdirSync(cacheDir, { recursive: true });
  const script = `
    import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
    import { PGlite } from '@electric-sql/pglite';
    import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
    const cache = process.env.PGLITE_EMPTY_CACHE;
    let db;
    if (existsSync(cache)) {
      db = await PGlite.create({ loadDataDir: new Blob([readFileSync(cache)]) }).catch(() => null);
    }
    if (!db) {
      db = await PGlite.create();
      const dump = await db.dumpDataDir('gzip');
      const tmp = cache + '.' + process.pid;
      writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
      renameSync(tmp, cache);
    }
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
    await server.start();
    process.stdout.write('postgres://postgres:postgres@' + server.getServerConn() + '/postgres?sslmode=disable\\n');
    process.stdin.resume();
    process.stdin.on('end', async () => { await server.stop(); await db.close(); process.exit(0); });
  `;
  const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    env: { ...process.env, PGLITE_EMPTY_CACHE: resolve(cacheDir, `pglite-${version}-empty.tgz`) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolveUrl, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', resolveUrl);
    child.once('exit', (code) => reject(new Error(`PGlite child exited with ${code}`)));
  });
  return {
    url,
    async drop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      child.stdin!.end();
      const timer = setTimeout(() => child.kill(), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
