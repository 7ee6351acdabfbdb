import { Ctx, FieldResolver, Int, Resolver, Root } from 'type-graphql';
import type { Context } from '../../context';
import { Tool } from '../../entities';
import { NotFoundError } from '../../errors';
import { usageKeyText } from '../../loaders';
import { UsageByDay, UsageByTool, UsageSummary } from './usage.types';

/**
 * The fields of a usage summary, each read only when asked for: an admin page that shows a
 * total per user runs one sum for the whole page, not the per-tool and per-day breakdowns.
 * Totals a statement of the request already read (an admin users page) answer at once; the
 * others follow their loader's promise once, not an async function around it.
 */
@Resolver(() => UsageSummary)
export class UsageSummaryResolver {
  @FieldResolver(() => Int, { description: 'Calls that reached a tool in the range' })
  calls(@Root() summary: UsageSummary, @Ctx() ctx: Context): number | Promise<number> {
    const known = ctx.loaders.known.usageTotals.get(usageKeyText(summary));
    if (known) return known.calls;
    return ctx.loaders.usageTotals.load(summary).then((totals) => totals?.calls ?? 0);
  }

  @FieldResolver(() => Int, { description: 'Tokens charged in the range' })
  totalTokens(@Root() summary: UsageSummary, @Ctx() ctx: Context): number | Promise<number> {
    const known = ctx.loaders.known.usageTotals.get(usageKeyText(summary));
    if (known) return known.totalTokens;
    return ctx.loaders.usageTotals.load(summary).then((totals) => totals?.totalTokens ?? 0);
  }

  @FieldResolver(() => [UsageByTool], { description: 'Most tokens first' })
  async byTool(@Root() summary: UsageSummary, @Ctx() ctx: Context): Promise<UsageByTool[]> {
    return (await ctx.loaders.usageByTool.load(summary)) ?? [];
  }

  @FieldResolver(() => [UsageByDay], {
    description: 'Oldest day first; days without calls are left out',
  })
  async byDay(@Root() summary: UsageSummary, @Ctx() ctx: Context): Promise<UsageByDay[]> {
    return (await ctx.loaders.usageByDay.load(summary)) ?? [];
  }
}

/** A tool's share of a summary: the tool itself is read only when asked for. */
@Resolver(() => UsageByTool)
export class UsageByToolResolver {
  @FieldResolver(() => Tool, { description: 'The tool these calls went to' })
  async tool(@Root() row: Pick<UsageByTool, 'toolId'>, @Ctx() ctx: Context): Promise<Tool> {
    const tool = await ctx.loaders.tool.load(row.toolId);
    if (!tool) throw new NotFoundError('Tool');
    return tool;
  }
}
