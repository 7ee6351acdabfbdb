import { PlanTier } from '../../entities/enums';
import type { BuiltinTool } from './builtin-tool';
import { extractWords, splitSentences } from './text-stats';

export const SUMMARIZE_MAX_LENGTH = 50_000;
export const DEFAULT_MAX_SENTENCES = 3;
export const MAX_SENTENCES_LIMIT = 20;
/**
 * The most JSON characters (escaped, without quotes) the chosen sentences may take together.
 * An over-long sentence is cut at a word and ends with "…", so the output, and with it the
 * tokens a FREE plan is charged for one call, stays bounded whatever the input.
 */
export const SUMMARY_CHAR_BUDGET = 3_900;

export interface SummarizeInput {
  text: string;
  maxSentences?: number;
}

export interface Summary {
  summary: string;
  sentences: string[];
  sentenceCount: number;
  originalSentenceCount: number;
}

/** Words that say little about what a text is about. */
const STOP_WORDS = new Set(
  (
    "a about above after again against all also am an and any are aren't as at be because been " +
    "before being below between both but by can can't cannot could couldn't did didn't do does " +
    "doesn't doing don't down during each even ever few for from further get gets got had hadn't " +
    "has hasn't have haven't having he he'd he'll he's her here here's hers herself him himself " +
    "his how how's however i i'd i'll i'm i've if in into is isn't it it's its itself just let's " +
    "like made make many may me might more most much must mustn't my myself new no nor not now of " +
    "off on once one only or other ought our ours ourselves out over own same shan't she she'd " +
    "she'll she's should shouldn't so some such than that that's the their theirs them themselves " +
    "then there there's these they they'd they'll they're they've this those though through thus " +
    "to too two under until up upon us use used using very via was wasn't we we'd we'll we're " +
    "we've were weren't what what's when when's where where's which while who who's whom why " +
    "why's will with won't would wouldn't yet you you'd you'll you're you've your yours yourself " +
    'yourselves'
  ).split(' '),
);
const NUMBER_RE = /^[\p{N}.,]+$/u;
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const SPACE_OR_CONTROL_RE = /[\s\p{Cc}]+/gu;

/** Lower-cased, possessive and plural "s" removed, so "Engine's" and "engines" count as one term. */
function contentTerms(sentence: string): string[] {
  const terms: string[] = [];
  for (const word of extractWords(sentence)) {
    let term = word.toLowerCase().replace(/’/g, "'");
    if (STOP_WORDS.has(term)) continue;
    term = term.replace(/'s$/, '');
    if (term.length < 2 || STOP_WORDS.has(term) || NUMBER_RE.test(term)) continue;
    if (term.length > 3 && term.endsWith('s') && !term.endsWith('ss')) term = term.slice(0, -1);
    terms.push(term);
  }
  return terms;
}

/** One line of well-formed text: control characters and runs of whitespace become one space. */
function cleanSentence(sentence: string): string {
  return sentence.replace(LONE_SURROGATE_RE, '\uFFFD').replace(SPACE_OR_CONTROL_RE, ' ').trim();
}

function jsonLength(text: string): number {
  return JSON.stringify(text).length - 2;
}

/** Cuts to at most `budget` escaped JSON characters, at a word boundary when one is near. */
function truncate(sentence: string, budget: number): string {
  if (jsonLength(sentence) <= budget) return sentence;
  const limit = budget - 1; // room for the ellipsis
  let used = 0;
  let cut = 0;
  for (const char of sentence) {
    const cost = jsonLength(char);
    if (used + cost > limit) break;
    used += cost;
    cut += char.length;
  }
  const head = sentence.slice(0, cut);
  const endsAtWord = sentence[cut] === ' ';
  const lastSpace = head.lastIndexOf(' ');
  const atWord = endsAtWord || lastSpace < head.length * 0.6 ? head : head.slice(0, lastSpace);
  return `${atWord.trimEnd()}…`;
}

/**
 * Extractive summary: each sentence scores the mean document frequency of its content words
 * (the most frequent term counts 1), so sentences about what the text keeps returning to win.
 * The mean is taken over at least three terms, so a one-word sentence cannot win on a single
 * frequent word. Ties go to the earlier sentence; the winners keep their original order.
 */
export function summarize(text: string, maxSentences: number = DEFAULT_MAX_SENTENCES): Summary {
  const requested = Number.isInteger(maxSentences) ? maxSentences : DEFAULT_MAX_SENTENCES;
  const limit = Math.min(Math.max(requested, 1), MAX_SENTENCES_LIMIT);
  const original = splitSentences(text).map(cleanSentence);
  let chosen = original;
  if (original.length > limit) {
    const terms = original.map(contentTerms);
    const frequency = new Map<string, number>();
    for (const sentenceTerms of terms) {
      for (const term of sentenceTerms) frequency.set(term, (frequency.get(term) ?? 0) + 1);
    }
    let maxFrequency = 1;
    for (const count of frequency.values()) maxFrequency = Math.max(maxFrequency, count);
    const scored = terms.map((sentenceTerms, index) => ({
      index,
      score:
        sentenceTerms.reduce((sum, term) => sum + (frequency.get(term) ?? 0), 0) /
        maxFrequency /
        Math.max(sentenceTerms.length, 3),
    }));
    scored.sort((a, b) => b.score - a.score || a.index - b.index);
    chosen = scored
      .slice(0, limit)
      .map(({ index }) => index)
      .sort((a, b) => a - b)
      .map((index) => original[index] as string);
  }
  const perSentenceBudget = Math.floor(SUMMARY_CHAR_BUDGET / Math.max(chosen.length, 1));
  const sentences = chosen.map((sentence) => truncate(sentence, perSentenceBudget));
  return {
    summary: sentences.join(' '),
    sentences,
    sentenceCount: sentences.length,
    originalSentenceCount: original.length,
  };
}

export const summarizeTool: BuiltinTool = {
  slug: 'summarize',
  name: 'Summarize',
  description:
    'Picks the most representative sentences of a text and returns them in their original order.',
  category: 'text',
  requiredTier: PlanTier.FREE,
  /*
   * Both `summary` and `sentences` carry the chosen text: 2 x 3,900 characters, plus 4 per
   * sentence for quotes, commas and spaces, plus 74 for keys and counts: at most 7,956 JSON
   * characters, 1,989 tokens.
   */
  maxOutputTokens: 2_000,
  inputSchema: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    properties: {
      text: {
        type: 'string',
        minLength: 1,
        maxLength: SUMMARIZE_MAX_LENGTH,
        description: 'The text to summarize',
      },
      maxSentences: {
        type: 'integer',
        minimum: 1,
        maximum: MAX_SENTENCES_LIMIT,
        default: DEFAULT_MAX_SENTENCES,
        description: 'How many sentences the summary may have',
      },
    },
    required: ['text'],
    additionalProperties: false,
  },
  run: (input: SummarizeInput): Summary => summarize(input.text, input.maxSentences),
};
