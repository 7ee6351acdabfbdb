import { startTestApp, type TestApp } from '../helpers/create-test-app';
import { expectNoErrors } from '../helpers/graphql';
import { PLANS_TTL_MS } from '../../src/resolvers/plans/subscription.service';

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const SUB = `id tokensUsed plan { id tier }`;

describe('cache identities of plans and subscriptions', () => {
  it('gives every plan its tier as id, so a client cache normalizes plans', async () => {
    const { plans } = expectNoErrors(await t.gql<{ plans: any[] }>(`{ plans { id tier } }`));
    expect(plans.map((p) => p.id)).toEqual(['FREE', 'PRO', 'ENTERPRISE']);
    for (const p of plans) expect(p.id).toBe(p.tier);
  });

  it('gives a user one PlanSubscription id wherever it is reached from and through plan changes, and another user another', async () => {
    const ada = await t.seed.user();
    const bob = await t.seed.user();
    const read = async (token: string) =>
      expectNoErrors(
        await t.gql<{ mySubscription: any; me: any }>(
          `{ mySubscription { ${SUB} } me { subscription { ${SUB} } } }`,
          {},
          token,
        ),
      );
    const first = await read(ada.accessToken);
    expect(first.mySubscription.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.me.subscription.id).toBe(first.mySubscription.id);

    const changed = expectNoErrors(
      await t.gql<{ changePlan: any }>(
        `mutation { changePlan(tier: PRO) { ${SUB} } }`,
        {},
        ada.accessToken,
      ),
    ).changePlan;
    expect(changed.id).toBe(first.mySubscription.id);
    expect(changed.plan).toEqual({ id: 'PRO', tier: 'PRO' });

    const invoked = expectNoErrors(
      await t.gql<{ invokeTool: any }>(
        `mutation { invokeTool(slug: "text-stats", input: {text: "Hello there."}) { subscription { ${SUB} } } }`,
        {},
        ada.accessToken,
      ),
    ).invokeTool;
    expect(invoked.subscription.id).toBe(first.mySubscription.id);
    expect(invoked.subscription.tokensUsed).toBeGreaterThan(0);

    const other = await read(bob.accessToken);
    expect(other.mySubscription.id).not.toBe(first.mySubscription.id);
  });
});

describe('the plan list', () => {
  it('is read from the database at most once per PLANS_TTL_MS per process, then again', async () => {
    let now = Date.UTC(2031, 0, 1);
    const app = await startTestApp({}, { clock: { now: () => new Date(now) } });
    try {
      const Q = `{ plans { tier name monthlyTokenQuota requestsPerMinute } }`;
      const first = await app.countQueries(async () => {
        expect(expectNoErrors(await app.gql<{ plans: any[] }>(Q)).plans).toHaveLength(3);
      });
      expect(first.filter((s) => /from plans/.test(s))).toHaveLength(1);
      // An operator's change (no API writes plans) shows once the copy has expired.
      await app.sql(`update plans set name = 'Free (renamed)' where tier = 'FREE'`);
      now += PLANS_TTL_MS - 1;
      const cached = await app.countQueries(async () => {
        const { plans } = expectNoErrors(await app.gql<{ plans: any[] }>(Q));
        expect(plans[0]).toMatchObject({ tier: 'FREE', name: 'Free' });
      });
      expect(cached).toEqual([]);
      now += 1;
      const again = await app.countQueries(async () => {
        const { plans } = expectNoErrors(await app.gql<{ plans: any[] }>(Q));
        expect(plans[0]).toMatchObject({ tier: 'FREE', name: 'Free (renamed)' });
      });
      expect(again.filter((s) => /from plans/.test(s))).toHaveLength(1);
    } finally {
      await app.sql(`update plans set name = 'Free' where tier = 'FREE'`);
      await app.close();
    }
  });
});
