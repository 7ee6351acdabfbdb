import { EntityRepository } from '@mikro-orm/postgresql';
import { query } from '../db/query';
import { toPlain } from '../lib/rows';
import { Plan } from './plan.entity';

export class PlanRepository extends EntityRepository<Plan> {
  /** Every plan, lowest rank first, as plain rows (read-only: never flushed). */
  async listPlain(): Promise<Plan[]> {
    const rows: Record<string, unknown>[] = await query(
      this.getEntityManager(),
      'select * from plans order by rank asc',
    );
    return rows.map((row) => toPlain(this.getEntityManager(), Plan, row));
  }
}
