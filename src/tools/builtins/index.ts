import type { BuiltinTool } from './builtin-tool';
import { sentimentTool } from './sentiment';
import { summarizeTool } from './summarize';
import { textStatsTool } from './text-stats';

export const builtinTools: ReadonlyMap<string, BuiltinTool> = new Map(
  [textStatsTool, summarizeTool, sentimentTool].map((tool): [string, BuiltinTool] => [
    tool.slug,
    tool,
  ]),
);

export function getBuiltinTool(slug: string): BuiltinTool | undefined {
  return builtinTools.get(slug);
}

export type { BuiltinTool } from './builtin-tool';
export { analyzeSentiment, sentimentTool } from './sentiment';
export type { Sentiment, SentimentLabel } from './sentiment';
export { summarize, summarizeTool } from './summarize';
export type { Summary } from './summarize';
export { computeTextStats, textStatsTool } from './text-stats';
export type { TextStats } from './text-stats';
