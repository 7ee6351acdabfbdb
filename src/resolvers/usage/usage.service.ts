import type { EntityManager } from '@mikro-orm/postgresql';
import { UsageRecord } from '../../entities';
import { BadUserInputError } from '../../errors';
import { type Clock, monthOf } from '../../lib/clock';
import { isUuid } from '../../lib/ids';
import { pageSize } from '../../lib/pagination';
import { type UsageFilter, UsageRecordConnection, UsageSummary } from './usage.types';

const MAX_RANGE_MS = 400 * 86_400_000;

import type { UsageRange } from '../../entities/usage-aggregates';

export type { UsageRange };

export class UsageService {
  constructor(private readonly clock: Clock) {}

  /** The range asked for, defaulting to the current period up to now; at most ~13 months. */
  range(from?: Date | null, to?: Date | null): UsageRange {
    const now = this.clock.now();
    const start = from ?? monthOf(now).start;
    const end = to ?? now;
    if (start.getTime() >= end.getTime()) {
      throw new BadUserInputError('from must be before to', ['from', 'to']);
    }
    if (end.getTime() - start.getTime() > MAX_RANGE_MS) {
      throw new BadUserInputError('the range can span at most 400 days', ['from', 'to']);
    }
    return { from: start, to: to ?? null };
  }

  /** The usage of `userId` over `range`; its aggregates are read when asked for. */
  summary(userId: string, range: UsageRange): UsageSummary {
    return new UsageSummary(userId, range.from, range.to);
  }

  /** Usage records, newest first; one user's, or everyone's when `userId` is null (ADMIN). */
  records(
    em: EntityManager,
    userId: string | null,
    args: { first?: number | null; after?: string | null; filter?: UsageFilter | null },
  ): UsageRecordConnection {
    const first = pageSize(args.first);
    if (userId !== null && !isUuid(userId)) {
      throw new BadUserInputError('userId is not a valid id', ['userId']);
    }
    const filter = { ...args.filter, userId };
    const repo = em.getRepository(UsageRecord);
    return new UsageRecordConnection({
      page: () => repo.page(filter, first, args.after),
      count: () => repo.total(filter),
    });
  }
}
