import type { Viewer } from '../../src/auth/viewer';
import { Role } from '../../src/entities/enums';
import { createLoaders } from '../../src/loaders';
import { startTestApp, type TestApp } from '../helpers/create-test-app';

/**
 * A request's DataLoaders are made when a field first asks for one (most requests ask for none
 * or one): the same loader every time after, and the signed-in viewer's own row served from
 * the credentials' read, without a statement.
 */
describe('per-request loaders', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const statementsDuring = async (fn: () => Promise<unknown>) => {
    const seen: string[] = [];
    const stop = t.app.watchStatements((text) => seen.push(text));
    try {
      await fn();
    } finally {
      stop();
    }
    return seen;
  };

  it("are made once each, and serve the verified viewer's own row without a statement", async () => {
    const user = await t.seed.user();
    const account = {
      id: user.id,
      email: 'from-the-credentials@example.com',
      name: 'Read with the session',
      role: Role.USER,
      isActive: true,
      createdAt: new Date(),
      updatedAt: new Date(),
    };
    const viewer: Viewer = { kind: 'user', via: 'jwt', account, sessionId: 'not-read-here' };
    const loaders = createLoaders(t.app.orm.em.fork() as never, viewer);
    expect(loaders.user).toBe(loaders.user);
    expect(loaders.taskPage).toBe(loaders.taskPage);
    expect(loaders.usageTotals).toBe(loaders.usageTotals);
    expect(loaders.known).toBe(loaders.known);
    let loaded: unknown;
    expect(await statementsDuring(async () => (loaded = await loaders.user.load(user.id)))).toEqual(
      [],
    );
    expect(loaded).toBe(account);
  });

  it("read an unverified viewer's row from the database: nothing is primed before its check", async () => {
    const user = await t.seed.user();
    const viewer: Viewer = {
      kind: 'user',
      via: 'jwt',
      account: { id: user.id } as never,
      sessionId: 'not-read-here',
      unverified: true,
    };
    const loaders = createLoaders(t.app.orm.em.fork() as never, viewer);
    let loaded: { email?: string } | null = null;
    const statements = await statementsDuring(
      async () => (loaded = (await loaders.user.load(user.id)) as { email?: string } | null),
    );
    expect(statements).toHaveLength(1);
    expect(loaded!.email).toBe(user.email);
  });
});
