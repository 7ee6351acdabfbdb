import { PlanTier } from '../../../entities/enums';
import { sentimentTool } from './sentiment';
import { summarizeTool } from './summarize';
import { textStatsTool } from './text-stats';

/** A tool that runs in-process: no `endpointUrl`, no upstream, no network. */
export interface BuiltinTool {
  slug: string;
  name: string;
  description: string;
  category: string;
  requiredTier: PlanTier;
  /** The most output tokens one call may produce: ceil(JSON.stringify(output).length / 4). */
  maxOutputTokens: number;
  /** JSON Schema (draft-07) that the gateway validates the input against before `run`. */
  inputSchema: Record<string, unknown>;
  /** Synchronous and deterministic; trusts that `input` already matched `inputSchema`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  run(input: any): unknown;
}

export const builtinTools: ReadonlyMap<string, BuiltinTool> = new Map(
  [textStatsTool, summarizeTool, sentimentTool].map((tool): [string, BuiltinTool] => [
    tool.slug,
    tool,
  ]),
);

export function getBuiltinTool(slug: string): BuiltinTool | undefined {
  return builtinTools.get(slug);
}

export { analyzeSentiment, sentimentTool } from './sentiment';
export type { Sentiment, SentimentLabel } from './sentiment';
export { summarize, summarizeTool } from './summarize';
export type { Summary } from './summarize';
export { computeTextStats, textStatsTool } from './text-stats';
export type { TextStats } from './text-stats';
