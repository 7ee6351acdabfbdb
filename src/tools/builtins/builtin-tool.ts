import type { PlanTier } from '../../entities/enums';

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
