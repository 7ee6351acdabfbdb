import { PlanTier } from '../../entities/enums';
import type { BuiltinTool } from './builtin-tool';

export const TEXT_STATS_MAX_LENGTH = 100_000;
export const WORDS_PER_MINUTE = 238;

export interface TextStatsInput {
  text: string;
}

export interface TextStats {
  characters: number;
  charactersNoSpaces: number;
  words: number;
  sentences: number;
  paragraphs: number;
  averageWordLength: number;
  readingTimeSeconds: number;
}

/**
 * A word is a run of letters, digits and combining marks, joined by inner apostrophes and
 * hyphens ("isn't", "well-known") or by a point or comma between digits ("9.30", "1,000").
 * Han, Hiragana and Katakana are written without spaces, so each of their characters counts
 * as a word rather than a whole sentence counting as one.
 */
const CJK = String.raw`\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}`;
const WORD_START = String.raw`(?![${CJK}])[\p{L}\p{N}]`;
const WORD_CHAR = String.raw`(?![${CJK}])[\p{L}\p{N}\p{M}]`;
const JOINER = String.raw`['’-](?=${WORD_START})|(?<=\p{N})[.,](?=\p{N})`;
const WORD_RE = new RegExp(String.raw`[${CJK}]|${WORD_START}(?:${WORD_CHAR}|${JOINER})*`, 'gu');
const HAS_WORD_RE = /[\p{L}\p{N}]/u;
const SURROGATE_PAIR_RE = /[\uD800-\uDBFF][\uDC00-\uDFFF]/g;
const WHITESPACE_RE = /\s/gu;
const PARAGRAPH_BREAK_RE = /\n\s*\n/;
/** Terminal punctuation (plus closing quotes/brackets) followed by space or the end; CJK stops need no space. */
const BOUNDARY_RE = /[.!?…‼⁇⁈⁉]+["'”’»)\]]*(?=\s|$)|[。！？]+[」』”’）)]*/gu;
const TOKEN_BEFORE_PERIOD_RE = /[\p{L}.]+$/u;
/** Lower-case, without the final period. Deliberately short: "etc." usually ends a sentence. */
const ABBREVIATIONS = new Set([
  'mr',
  'mrs',
  'ms',
  'mx',
  'dr',
  'prof',
  'rev',
  'sr',
  'jr',
  'st',
  'mt',
  'vs',
  'e.g',
  'i.e',
  'cf',
  'approx',
  'fig',
]);

/** Counts code points, as ajv's maxLength does: a surrogate pair is one character. */
export function codePointLength(text: string): number {
  return text.length - (text.match(SURROGATE_PAIR_RE)?.length ?? 0);
}

export function extractWords(text: string): string[] {
  return text.match(WORD_RE) ?? [];
}

export function splitParagraphs(text: string): string[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split(PARAGRAPH_BREAK_RE)
    .filter((paragraph) => HAS_WORD_RE.test(paragraph));
}

function isAbbreviation(paragraph: string, periodIndex: number): boolean {
  const token = paragraph
    .slice(Math.max(0, periodIndex - 12), periodIndex)
    .match(TOKEN_BEFORE_PERIOD_RE)?.[0];
  if (!token) return false;
  if (ABBREVIATIONS.has(token.toLowerCase())) return true;
  // An initial such as the "J." of "J. Smith"; "I." is far more often the pronoun.
  return (
    token.length === 1 &&
    token !== 'I' &&
    token === token.toUpperCase() &&
    token !== token.toLowerCase()
  );
}

function splitParagraphSentences(paragraph: string): string[] {
  const sentences: string[] = [];
  let start = 0;
  for (const match of paragraph.matchAll(BOUNDARY_RE)) {
    const index = match.index;
    if (match[0] === '.' && isAbbreviation(paragraph, index)) continue;
    const end = index + match[0].length;
    sentences.push(paragraph.slice(start, end));
    start = end;
  }
  sentences.push(paragraph.slice(start));
  return sentences
    .map((sentence) => sentence.trim())
    .filter((sentence) => HAS_WORD_RE.test(sentence));
}

/**
 * Sentences in document order, trimmed, as they appear in the text (inner whitespace kept).
 * A blank line ends a sentence even without punctuation, so headings stand on their own; a
 * fragment with no word in it ("!!!") is not a sentence.
 */
export function splitSentences(text: string): string[] {
  return splitParagraphs(text).flatMap(splitParagraphSentences);
}

export function computeTextStats(text: string): TextStats {
  const characters = codePointLength(text);
  const spaces = text.match(WHITESPACE_RE)?.length ?? 0;
  const words = extractWords(text);
  const letters = words.reduce((sum, word) => sum + codePointLength(word), 0);
  const paragraphs = splitParagraphs(text);
  const sentences = paragraphs.reduce((sum, p) => sum + splitParagraphSentences(p).length, 0);
  return {
    characters,
    charactersNoSpaces: characters - spaces,
    words: words.length,
    sentences,
    paragraphs: paragraphs.length,
    averageWordLength: words.length === 0 ? 0 : Math.round((letters / words.length) * 100) / 100,
    readingTimeSeconds: Math.ceil((words.length * 60) / WORDS_PER_MINUTE),
  };
}

export const textStatsTool: BuiltinTool = {
  slug: 'text-stats',
  name: 'Text statistics',
  description:
    'Counts the characters, words, sentences and paragraphs of a text and estimates its reading time.',
  category: 'text',
  requiredTier: PlanTier.FREE,
  // Seven integers of at most 6 digits and one 2-decimal average: about 160 JSON characters.
  maxOutputTokens: 64,
  inputSchema: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    properties: {
      text: {
        type: 'string',
        minLength: 1,
        maxLength: TEXT_STATS_MAX_LENGTH,
        description: 'The text to measure',
      },
    },
    required: ['text'],
    additionalProperties: false,
  },
  run: (input: TextStatsInput): TextStats => computeTextStats(input.text),
};
