import { PlanTier } from '../../entities/enums';
import type { BuiltinTool } from './builtin-tool';

export const SENTIMENT_MAX_LENGTH = 50_000;
/** How many words each of `positiveWords` and `negativeWords` lists at most, strongest first. */
export const SENTIMENT_WORD_LIMIT = 10;

export interface SentimentInput {
  text: string;
}

export type SentimentLabel = 'positive' | 'negative' | 'neutral';

export interface Sentiment {
  score: number;
  label: SentimentLabel;
  positiveWords: string[];
  negativeWords: string[];
}

/**
 * AFINN-style valences (-5..5) of common English words, grouped by weight. Words that are
 * mostly neutral in everyday or technical prose ("like", "kind", "free", "support", "hard",
 * "error") are left out on purpose: a false hit in a neutral text hurts more than a miss.
 */
const LEXICON_BY_WEIGHT: Record<number, string> = {
  5: 'breathtaking outstanding superb thrilled',
  4:
    'amazing awesome brilliant ecstatic excellent exceptional fabulous fantastic incredible ' +
    'magnificent marvellous marvelous masterpiece phenomenal spectacular stunning terrific ' +
    'triumph winning wonderful wow',
  3:
    'admire adorable adore adored amazed beautiful best blessed celebrate cheerful dazzling ' +
    'delight delighted delightful enjoyable enthusiastic excellence excited exciting fascinating ' +
    'fun glad good gorgeous grateful great happy heartwarming impressed impressive joy joyful ' +
    'love loved lovely loves loving lucky magical nice perfect pleasant pleased pleasure popular ' +
    'splendid stellar superior thankful thrilling victory win winner',
  2:
    'affordable appreciate appreciated approve benefit better calm champion charming clean ' +
    'comfortable confident congrats congratulations creative dependable eager effective ' +
    'efficient elegant encouraging enjoy enjoyed fair favorite favourite fine fortunate friendly ' +
    'generous genuine gentle glorious handy happier harmony healthy helpful hilarious honest ' +
    'hope hopeful hopefully ideal improve improved improvement inspired inspiring intelligent ' +
    'interesting intuitive liked lively neat peaceful polished positive powerful praise precious ' +
    'proud recommend recommended refreshing reliable relief relieved remarkable respect rewarding ' +
    'robust satisfied satisfying seamless secure sincere smart smile smooth solid strong success ' +
    'successful sweet thank thanks thoughtful thrive upbeat useful valuable vibrant welcome wise ' +
    'worth worthy yay',
  1: 'agree alright cute decent easy interested ok okay pretty reasonable safe trust yes',
  [-1]: 'delay delayed doubt expensive meh noisy odd rejected slow sorry strange stress unsure',
  [-2]:
    'abandoned afraid alarming annoy annoyed annoying anxious arrogant ashamed awkward bitter ' +
    'blame bored bothered broken buggy careless chaos clumsy clunky collapse complain complaint ' +
    'confused confusing crash crashed damage damaged danger dangerous defective depressed ' +
    'depressing difficult dirty disappoint disappointed disappointing disappointment dislike ' +
    'dismal dissatisfied distress embarrassing exhausted fail failed failure fault faulty fear ' +
    'flawed foolish frustrated frustrating glitchy gloomy greedy grief gross harsh hopeless ' +
    'hostile hurt ill inadequate incompetent inconvenient inferior insult lack lacking laggy lame ' +
    'lonely mediocre mess messy missing mistake negative overpriced pain painful pathetic ' +
    'pointless poor problem regret rude sad sadly scared scary shame shameful shocked shoddy sick ' +
    'sloppy sluggish stressed stressful struggle stuck suffer suffering tedious tired tragic ' +
    'trouble unfair unfortunately unhappy unreliable unstable upset upsetting useless wasted ' +
    'weak worried worry worthless wrong',
  [-3]:
    'abuse agony anger angry awful bad bogus boring brutal cheated corrupt crappy crisis cruel ' +
    'desperate destroyed disaster disgusted disgusting dreadful dumb evil fake fatal furious ' +
    'guilty hate hated hateful hates horrible horrified irritating liar lose loser losing loss ' +
    'lost lousy mad misleading miserable nasty nightmare panic ridiculous stupid suck sucks ' +
    'terrible terrified ugly unacceptable unbearable unusable worse worst',
  [-4]: 'abysmal appalling atrocious catastrophic fraud horrendous horrific scam torture',
};

export const SENTIMENT_LEXICON: ReadonlyMap<string, number> = new Map(
  Object.entries(LEXICON_BY_WEIGHT).flatMap(([weight, words]) =>
    words.split(' ').map((word): [string, number] => [word, Number(weight)]),
  ),
);

const INTENSIFIERS: ReadonlyMap<string, number> = new Map([
  ['absolutely', 1.5],
  ['completely', 1.5],
  ['especially', 1.3],
  ['exceptionally', 1.75],
  ['extremely', 1.75],
  ['highly', 1.5],
  ['incredibly', 1.75],
  ['particularly', 1.3],
  ['pretty', 1.2],
  ['quite', 1.2],
  ['really', 1.3],
  ['remarkably', 1.5],
  ['so', 1.3],
  ['super', 1.5],
  ['totally', 1.5],
  ['truly', 1.3],
  ['utterly', 1.75],
  ['very', 1.5],
  ['fairly', 0.8],
  ['mildly', 0.6],
  ['moderately', 0.8],
  ['slightly', 0.5],
  ['somewhat', 0.7],
]);

export const SENTIMENT_NEGATORS: ReadonlySet<string> = new Set(
  (
    'not no never none nobody nothing neither nor nowhere cannot without hardly barely scarcely ' +
    "don't doesn't didn't isn't wasn't weren't aren't can't couldn't won't wouldn't shouldn't " +
    "ain't haven't hasn't hadn't mustn't needn't dont doesnt didnt isnt wasnt werent arent cant " +
    'couldnt wont wouldnt shouldnt aint havent hasnt hadnt'
  ).split(' '),
);

/** "not good" is weaker than "bad": a negated valence flips and shrinks (VADER uses 0.74). */
const NEGATION_FACTOR = -0.75;
/** Words after a negator that it still reaches, within the same clause. */
const NEGATION_SCOPE = 3;
const MAX_MULTIPLIER = 3;
/** Before "but" a clause counts half, after it one and a half: "good but slow" leans negative. */
const BEFORE_BUT = 0.5;
const AFTER_BUT = 1.5;
/** VADER's normalisation constant: score = sum / sqrt(sum^2 + ALPHA) lands in (-1, 1). */
const ALPHA = 15;
const NEUTRAL_BAND = 0.05;

const TOKEN_RE = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*|[.,;:!?]/gu;
const PUNCTUATION_RE = /^[.,;:!?]$/;
const SENTENCE_END = new Set(['.', '!', '?']);

function lexiconWeight(token: string): number | undefined {
  const weight = SENTIMENT_LEXICON.get(token);
  if (weight !== undefined || !token.endsWith('s')) return weight;
  return SENTIMENT_LEXICON.get(token.slice(0, -1));
}

function isNegator(token: string): boolean {
  return SENTIMENT_NEGATORS.has(token) || token.endsWith("n't");
}

interface Contribution {
  /** The word as written, or "not good" when negated, so a reader sees why it counted. */
  word: string;
  value: number;
  position: number;
  sentence: number;
}

function topWords(contributions: Contribution[]): string[] {
  const byWord = new Map<string, { total: number; first: number }>();
  for (const { word, value, position } of contributions) {
    const entry = byWord.get(word);
    if (entry) entry.total += Math.abs(value);
    else byWord.set(word, { total: Math.abs(value), first: position });
  }
  return [...byWord.entries()]
    .sort(([, a], [, b]) => b.total - a.total || a.first - b.first)
    .slice(0, SENTIMENT_WORD_LIMIT)
    .map(([word]) => word);
}

export function analyzeSentiment(text: string): Sentiment {
  const tokens = (text.match(TOKEN_RE) ?? []).map((token) =>
    token.toLowerCase().replace(/’/g, "'"),
  );
  const contributions: Contribution[] = [];
  let sentence = 0;
  let negationLeft = 0;
  let negator = 'not';
  let multiplier = 1;
  let afterBut = false;

  tokens.forEach((token, position) => {
    if (PUNCTUATION_RE.test(token)) {
      negationLeft = 0;
      multiplier = 1;
      if (SENTENCE_END.has(token)) {
        sentence += 1;
        afterBut = false;
      }
      return;
    }
    const negated = negationLeft > 0;
    negationLeft = Math.max(0, negationLeft - 1);

    if (token === 'but') {
      for (const c of contributions) if (c.sentence === sentence) c.value *= BEFORE_BUT;
      afterBut = true;
      negationLeft = 0;
      multiplier = 1;
      return;
    }
    if (isNegator(token)) {
      // "not only good" praises; it does not negate.
      negationLeft = tokens[position + 1] === 'only' ? 0 : NEGATION_SCOPE;
      // Unlisted contractions ("mightn't") are shown as "not" to keep the word lists short.
      negator = SENTIMENT_NEGATORS.has(token) ? token : 'not';
      return;
    }
    const next = tokens[position + 1];
    const boost = INTENSIFIERS.get(token);
    if (
      boost !== undefined &&
      next !== undefined &&
      (lexiconWeight(next) !== undefined || INTENSIFIERS.has(next))
    ) {
      multiplier = Math.min(multiplier * boost, MAX_MULTIPLIER);
      return;
    }
    const weight = lexiconWeight(token);
    if (weight === undefined) {
      multiplier = 1;
      return;
    }
    let value = weight * multiplier;
    if (negated) value *= NEGATION_FACTOR;
    if (afterBut) value *= AFTER_BUT;
    const word = negated ? `${negator} ${token}` : token;
    contributions.push({ word, value, position, sentence });
    multiplier = 1;
  });

  const sum = contributions.reduce((total, c) => total + c.value, 0);
  const score = Math.round((sum / Math.sqrt(sum * sum + ALPHA)) * 10_000) / 10_000 || 0;
  const label: SentimentLabel =
    score > NEUTRAL_BAND ? 'positive' : score < -NEUTRAL_BAND ? 'negative' : 'neutral';
  return {
    score,
    label,
    positiveWords: topWords(contributions.filter((c) => c.value > 0)),
    negativeWords: topWords(contributions.filter((c) => c.value < 0)),
  };
}

export const sentimentTool: BuiltinTool = {
  slug: 'sentiment',
  name: 'Sentiment',
  description:
    'Scores how positive or negative a text is, from -1 to 1, and names the words that drove the score.',
  category: 'text',
  requiredTier: PlanTier.PRO,
  /*
   * Each word list holds at most 10 entries, each a lexicon word (at most 15 characters, 16
   * with a plural "s") after at most a listed negator (9 characters): about 650 JSON
   * characters in all, 163 tokens, whatever the length of the text.
   */
  maxOutputTokens: 200,
  inputSchema: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    properties: {
      text: {
        type: 'string',
        minLength: 1,
        maxLength: SENTIMENT_MAX_LENGTH,
        description: 'The text to score',
      },
    },
    required: ['text'],
    additionalProperties: false,
  },
  run: (input: SentimentInput): Sentiment => analyzeSentiment(input.text),
};
