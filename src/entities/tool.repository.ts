import { EntityRepository } from '@mikro-orm/postgresql';
import { countRows, keysetPage, type KeysetOrder } from '../db/keyset';
import { SqlFilter } from '../db/sql-filter';
import type { Page } from '../lib/pagination';
import type { PlanTier } from './enums';
import { Tool } from './tool.entity';

export interface ToolFilterValues {
  category?: string | null;
  search?: string | null;
}

/** What a slug looks like; anything else names no tool. */
export const SLUG_KEY = /^[a-z0-9-]{1,64}$/;

/** By slug, which is unique: the slug alone orders and compares. */
const BY_SLUG: KeysetOrder = {
  name: 'SLUG:ASC',
  key: 't.slug',
  cast: 'text',
  pattern: SLUG_KEY,
  descending: false,
  unique: true,
};

/** Active tools only. */
function toolFilter(filter: ToolFilterValues | null | undefined): SqlFilter {
  return new SqlFilter()
    .and('t.is_active')
    .given(filter?.category, 't.category = ?')
    .contains(['t.slug', 't.name', 't.description'], filter?.search);
}

/** A tool's row as seeded: every column given. */
export interface ToolRow {
  id: string;
  slug: string;
  name: string;
  description: string;
  category: string;
  requiredTier: PlanTier;
  inputSchema: Record<string, unknown>;
  maxOutputTokens: number;
  endpointUrl: string | null;
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export class ToolRepository extends EntityRepository<Tool> {
  /** Active tools by slug. */
  page(
    filter: ToolFilterValues | null | undefined,
    first: number,
    after: string | null | undefined,
  ): Promise<Page<Tool>> {
    return keysetPage(this.getEntityManager(), Tool, {
      table: 'tools',
      filter: toolFilter(filter),
      order: BY_SLUG,
      first,
      after,
    });
  }

  /** Active tools under `filter`: the list's totalCount. */
  total(filter: ToolFilterValues | null | undefined): Promise<number> {
    return countRows(this.getEntityManager(), 'tools', toolFilter(filter));
  }

  /**
   * Inserts the tools whose slug is not taken; a slug already there, or added meanwhile by
   * another transaction, is left as it is. The number inserted.
   */
  async insertMissing(rows: ToolRow[]): Promise<number> {
    const added = (await this.getEntityManager()
      .createQueryBuilder(Tool)
      .insert(rows)
      .onConflict('slug')
      .ignore()
      .returning('slug')
      .execute('all')) as unknown[];
    return added.length;
  }
}
