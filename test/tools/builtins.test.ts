import Ajv from 'ajv';
import { PlanTier } from '../../src/entities/enums';
import {
  analyzeSentiment,
  builtinTools,
  computeTextStats,
  getBuiltinTool,
  summarize,
  type BuiltinTool,
} from '../../src/tools/builtins';
import {
  SENTIMENT_LEXICON,
  SENTIMENT_NEGATORS,
  SENTIMENT_WORD_LIMIT,
  sentimentTool,
} from '../../src/tools/builtins/sentiment';
import {
  MAX_SENTENCES_LIMIT,
  SUMMARIZE_MAX_LENGTH,
  SUMMARY_CHAR_BUDGET,
  summarizeTool,
} from '../../src/tools/builtins/summarize';
import { TEXT_STATS_MAX_LENGTH, textStatsTool } from '../../src/tools/builtins/text-stats';

const tokens = (output: unknown): number => Math.ceil(JSON.stringify(output).length / 4);

function tool(slug: string): BuiltinTool {
  const found = getBuiltinTool(slug);
  if (!found) throw new Error(`no built-in tool ${slug}`);
  return found;
}

/** Runs a tool the way the gateway does: the input must pass the schema first. */
function validateAndRun(builtin: BuiltinTool, input: unknown): unknown {
  const validate = new Ajv({ allErrors: true, strict: true }).compile(builtin.inputSchema);
  if (!validate(input)) throw new Error(`invalid input: ${JSON.stringify(validate.errors)}`);
  return builtin.run(input);
}

describe('built-in tool registry', () => {
  it('lists the three built-in tools by slug with their tiers', () => {
    expect([...builtinTools.keys()]).toEqual(['text-stats', 'summarize', 'sentiment']);
    expect(tool('text-stats').requiredTier).toBe(PlanTier.FREE);
    expect(tool('summarize').requiredTier).toBe(PlanTier.FREE);
    expect(tool('sentiment').requiredTier).toBe(PlanTier.PRO);
    expect(getBuiltinTool('translate')).toBeUndefined();
    for (const builtin of builtinTools.values()) {
      expect(builtin.name.length).toBeGreaterThan(0);
      expect(builtin.description.length).toBeGreaterThan(20);
      expect(builtin.category).toBe('text');
      expect(Number.isInteger(builtin.maxOutputTokens)).toBe(true);
      expect(builtin.maxOutputTokens).toBeGreaterThan(0);
    }
  });

  it('keeps every tool affordable on the FREE plan quota of 10,000 tokens a month', () => {
    expect(textStatsTool.maxOutputTokens).toBe(64);
    expect(summarizeTool.maxOutputTokens).toBe(2_000);
    expect(sentimentTool.maxOutputTokens).toBe(200);
  });

  it('returns the same output for the same input', () => {
    const text = 'Great results. The setup was not easy, but support was very helpful. Done.';
    for (const builtin of builtinTools.values()) {
      expect(JSON.stringify(builtin.run({ text }))).toBe(JSON.stringify(builtin.run({ text })));
    }
  });
});

describe('input schemas', () => {
  const maxLength: Record<string, number> = {
    'text-stats': TEXT_STATS_MAX_LENGTH,
    summarize: SUMMARIZE_MAX_LENGTH,
    sentiment: 50_000,
  };

  it.each([...builtinTools.keys()])('%s compiles in strict mode and checks its input', (slug) => {
    const builtin = tool(slug);
    const ajv = new Ajv({ allErrors: true, strict: true });
    const validate = ajv.compile(builtin.inputSchema);
    const limit = maxLength[slug] as number;

    expect(validate({ text: 'Hello world.' })).toBe(true);
    expect(validate({ text: 'x'.repeat(limit) })).toBe(true);
    // ajv counts code points: an emoji is one character however many UTF-16 units it takes.
    expect(validate({ text: '😀'.repeat(limit) })).toBe(true);

    expect(validate({})).toBe(false);
    expect(validate.errors?.[0]?.keyword).toBe('required');
    expect(validate({ text: 42 })).toBe(false);
    expect(validate.errors?.[0]?.keyword).toBe('type');
    expect(validate({ text: 'hi', extra: true })).toBe(false);
    expect(validate.errors?.[0]?.keyword).toBe('additionalProperties');
    expect(validate({ text: '' })).toBe(false);
    expect(validate.errors?.[0]?.keyword).toBe('minLength');
    expect(validate({ text: 'x'.repeat(limit + 1) })).toBe(false);
    expect(validate.errors?.[0]?.keyword).toBe('maxLength');
    expect(validate('just a string')).toBe(false);
    expect(validate(null)).toBe(false);
  });

  it('summarize accepts maxSentences 1..20 and nothing else', () => {
    const validate = new Ajv({ allErrors: true, strict: true }).compile(summarizeTool.inputSchema);
    expect(validate({ text: 'a', maxSentences: 1 })).toBe(true);
    expect(validate({ text: 'a', maxSentences: MAX_SENTENCES_LIMIT })).toBe(true);
    for (const maxSentences of [0, -1, 21, 2.5, '3', null]) {
      expect(validate({ text: 'a', maxSentences })).toBe(false);
    }
  });
});

describe('text-stats', () => {
  it('counts a short two-sentence text', () => {
    expect(computeTextStats('Hello world. How are you?')).toEqual({
      characters: 25,
      charactersNoSpaces: 21,
      words: 5,
      sentences: 2,
      paragraphs: 1,
      averageWordLength: 3.8,
      readingTimeSeconds: 2,
    });
  });

  it('counts a paragraph with abbreviations, numbers, quotes and contractions', () => {
    const text =
      'Dr. Smith arrived at 9.30 today.\n\nHe said: "It’s well-known, isn’t it?" Nobody answered';
    // Words: Dr Smith arrived at 9.30 today He said It’s well-known isn’t it Nobody answered
    expect(computeTextStats(text)).toEqual({
      characters: 87,
      charactersNoSpaces: 73,
      words: 14,
      sentences: 3,
      paragraphs: 2,
      averageWordLength: 4.71, // 66 letters / 14 words
      readingTimeSeconds: 4, // 14 words at 238 a minute: 3.53 s
    });
  });

  it('counts one sentence when there is no terminal punctuation', () => {
    expect(computeTextStats('just some words without an ending')).toMatchObject({
      words: 6,
      sentences: 1,
      paragraphs: 1,
    });
  });

  it('treats CRLF blank lines as paragraph breaks and a heading as its own sentence', () => {
    const stats = computeTextStats(
      'Introduction\r\n\r\nFirst point. Second point!\r\n\r\n\r\nEnd?',
    );
    expect(stats.paragraphs).toBe(3);
    expect(stats.sentences).toBe(4);
  });

  it('counts code points and unicode words', () => {
    // "ï" and "é" precomposed; the emoji with its skin tone is two code points.
    const stats = computeTextStats('naïve café 👋🏽 — 你好世界');
    expect(stats.characters).toBe(20);
    expect(stats.charactersNoSpaces).toBe(16);
    expect(stats.words).toBe(6); // naïve, café and one per Han character
    expect(stats.sentences).toBe(1);
    // A combining accent stays inside its word.
    expect(computeTextStats('cafe\u0301 ok')).toMatchObject({ characters: 8, words: 2 });
    expect(computeTextStats('東京は大きい都市です。I love it')).toMatchObject({
      words: 13,
      sentences: 2,
    });
  });

  it('does not end sentences at abbreviations, initials or decimals', () => {
    expect(
      computeTextStats('Mr. J. Smith paid 3.50 dollars, e.g. for tea. Then he left.').sentences,
    ).toBe(2);
    expect(computeTextStats('Wait... what?! Really.').sentences).toBe(3);
  });

  it('reports zeros for text without words', () => {
    expect(computeTextStats('  \n\t ')).toEqual({
      characters: 5,
      charactersNoSpaces: 0,
      words: 0,
      sentences: 0,
      paragraphs: 0,
      averageWordLength: 0,
      readingTimeSeconds: 0,
    });
    expect(computeTextStats('!!! ???')).toMatchObject({ characters: 7, words: 0, sentences: 0 });
  });

  it('rounds reading time up at 238 words a minute', () => {
    expect(computeTextStats('word '.repeat(238)).readingTimeSeconds).toBe(60);
    expect(computeTextStats('word '.repeat(239)).readingTimeSeconds).toBe(61);
    expect(computeTextStats('word').readingTimeSeconds).toBe(1);
  });
});

describe('summarize', () => {
  const SOLAR =
    'Solar panels convert sunlight into electricity. The weather was pleasant on Tuesday. ' +
    'Modern solar panels convert more sunlight into electricity than older panels did. ' +
    'My cousin plays the violin. ' +
    'Cheaper solar panels help households produce electricity from sunlight. ' +
    'Lunch was served at noon.';

  it('picks the sentences about what the text keeps returning to, in original order', () => {
    expect(summarize(SOLAR, 3)).toEqual({
      summary:
        'Solar panels convert sunlight into electricity. ' +
        'Modern solar panels convert more sunlight into electricity than older panels did. ' +
        'Cheaper solar panels help households produce electricity from sunlight.',
      sentences: [
        'Solar panels convert sunlight into electricity.',
        'Modern solar panels convert more sunlight into electricity than older panels did.',
        'Cheaper solar panels help households produce electricity from sunlight.',
      ],
      sentenceCount: 3,
      originalSentenceCount: 6,
    });
    expect(summarize(SOLAR, 1).sentences).toEqual([
      'Solar panels convert sunlight into electricity.',
    ]);
  });

  it('keeps document order even when the best sentence comes last', () => {
    const text =
      'Bees visit gardens. Cats sleep a lot. Dogs bark at night. ' +
      'Bees make honey from nectar, and honey bees pollinate flowers in gardens.';
    const { sentences } = summarize(text, 2);
    expect(sentences).toEqual([
      'Bees visit gardens.',
      'Bees make honey from nectar, and honey bees pollinate flowers in gardens.',
    ]);
  });

  it('breaks ties by position', () => {
    const text = 'Alpha bravo charlie. Delta echo foxtrot. Golf hotel india. Juliet kilo lima.';
    expect(summarize(text, 2).sentences).toEqual(['Alpha bravo charlie.', 'Delta echo foxtrot.']);
  });

  it('returns every sentence when there are no more than maxSentences', () => {
    const result = summarize(SOLAR, 6);
    expect(result.sentenceCount).toBe(6);
    expect(result.sentences[1]).toBe('The weather was pleasant on Tuesday.');
    expect(summarize('Only one line here', 3)).toEqual({
      summary: 'Only one line here',
      sentences: ['Only one line here'],
      sentenceCount: 1,
      originalSentenceCount: 1,
    });
  });

  it('defaults to three sentences when run without maxSentences', () => {
    const output = summarizeTool.run({ text: SOLAR }) as { sentenceCount: number };
    expect(output.sentenceCount).toBe(3);
  });

  it('puts each sentence on one line', () => {
    expect(summarize('First line\ncontinues  here.\tSecond\u0000 sentence.', 5).sentences).toEqual([
      'First line continues here.',
      'Second sentence.',
    ]);
  });

  it('cuts an over-long sentence at a word and marks it', () => {
    const text = `${'lorem ipsum '.repeat(4_000)}end.`;
    const { sentences, summary } = summarize(text, 1);
    expect(sentences).toHaveLength(1);
    expect(summary).toMatch(/^lorem ipsum lorem .* (lorem|ipsum)…$/);
    expect(summary.length).toBeLessThanOrEqual(SUMMARY_CHAR_BUDGET);
    expect(summary.length).toBeGreaterThan(SUMMARY_CHAR_BUDGET - 20);
  });

  it('returns an empty summary for text without words', () => {
    expect(summarize('   ...   ')).toEqual({
      summary: '',
      sentences: [],
      sentenceCount: 0,
      originalSentenceCount: 0,
    });
  });
});

describe('sentiment', () => {
  it('labels clearly positive, negative and neutral texts', () => {
    const positive = analyzeSentiment(
      'I absolutely love this product! It is reliable and the team was wonderful.',
    );
    expect(positive.label).toBe('positive');
    expect(positive.score).toBeGreaterThan(0.9);
    expect(positive.positiveWords).toEqual(['love', 'wonderful', 'reliable']);
    expect(positive.negativeWords).toEqual([]);

    const negative = analyzeSentiment(
      'This was the worst purchase ever. Customer service was rude and useless.',
    );
    expect(negative.label).toBe('negative');
    expect(negative.score).toBeLessThan(-0.8);
    expect(negative.negativeWords).toEqual(['worst', 'rude', 'useless']);

    expect(analyzeSentiment('The meeting is at 10am in room 4 on the second floor.')).toEqual({
      score: 0,
      label: 'neutral',
      positiveWords: [],
      negativeWords: [],
    });
  });

  it('scores a single word with the normalisation sum / sqrt(sum^2 + 15)', () => {
    // good = 3: 3 / sqrt(24)
    expect(analyzeSentiment('This is good.').score).toBe(0.6124);
    expect(analyzeSentiment('This is bad.').score).toBe(-0.6124);
  });

  it('flips negated words', () => {
    const notGood = analyzeSentiment('This is not good.');
    expect(notGood.label).toBe('negative');
    expect(notGood.score).toBe(-0.5023); // 3 * -0.75 = -2.25
    expect(notGood.negativeWords).toEqual(['not good']);

    const notBad = analyzeSentiment('Not bad at all.');
    expect(notBad.label).toBe('positive');
    expect(notBad.positiveWords).toEqual(['not bad']);

    expect(analyzeSentiment("It isn't great").negativeWords).toEqual(["isn't great"]);
    expect(analyzeSentiment('No problems so far.').positiveWords).toEqual(['no problems']);
    // Negation ends at the clause: "good" after the comma counts as written.
    expect(analyzeSentiment('Not now, it is good.').label).toBe('positive');
    expect(analyzeSentiment('Not only good, but great.').label).toBe('positive');
  });

  it('boosts words after an intensifier and softens them after a diminisher', () => {
    const plain = analyzeSentiment('good').score;
    const very = analyzeSentiment('very good').score;
    const slightly = analyzeSentiment('slightly good').score;
    expect(very).toBeGreaterThan(plain);
    expect(slightly).toBeLessThan(plain);
    expect(slightly).toBeGreaterThan(0);
    expect(analyzeSentiment('not very good').score).toBeLessThan(
      analyzeSentiment('not good').score,
    );
    // "pretty" boosts an evaluative word and is itself mildly positive otherwise.
    expect(analyzeSentiment('pretty bad').score).toBeLessThan(analyzeSentiment('bad').score);
    expect(analyzeSentiment('a pretty dress').label).toBe('positive');
  });

  it('weights the clause after "but" more than the one before', () => {
    const result = analyzeSentiment('The food was good but the service was terrible.');
    expect(result.label).toBe('negative');
    expect(result.positiveWords).toEqual(['good']);
    expect(result.negativeWords).toEqual(['terrible']);
    expect(analyzeSentiment('The service was terrible but the food was good.').label).toBe(
      'positive',
    );
  });

  it('treats a balanced text as neutral', () => {
    const result = analyzeSentiment('The good part is fine. The bad part is poor.');
    expect(result.label).toBe('neutral');
    expect(result.score).toBe(0);
  });

  it('keeps the score in [-1, 1] with at most four decimals', () => {
    const texts = [
      'great '.repeat(5_000),
      'awful '.repeat(5_000),
      'good bad '.repeat(1_000),
      'Amazing, wonderful, excellent! Not terrible.',
    ];
    for (const text of texts) {
      const { score } = analyzeSentiment(text);
      expect(score).toBeGreaterThanOrEqual(-1);
      expect(score).toBeLessThanOrEqual(1);
      expect(Math.round(score * 10_000) / 10_000).toBe(score);
    }
  });

  it('has a compact lexicon with AFINN-style weights', () => {
    expect(SENTIMENT_LEXICON.size).toBeGreaterThanOrEqual(150);
    expect(SENTIMENT_LEXICON.size).toBeLessThanOrEqual(400);
    for (const [word, weight] of SENTIMENT_LEXICON) {
      expect(word).toMatch(/^[a-z]+$/);
      expect(Number.isInteger(weight) && weight !== 0 && Math.abs(weight) <= 5).toBe(true);
    }
  });
});

describe('output token bounds', () => {
  const longestWord = [...SENTIMENT_LEXICON.keys()].reduce((a, b) => (b.length > a.length ? b : a));
  const longestNegator = [...SENTIMENT_NEGATORS].reduce((a, b) => (b.length > a.length ? b : a));

  it('text-stats stays within maxOutputTokens for the largest inputs', () => {
    const max = TEXT_STATS_MAX_LENGTH;
    const inputs = [
      'a'.repeat(max),
      'a '.repeat(max / 2),
      'a. '.repeat(Math.floor(max / 3)),
      'a\n\n'.repeat(Math.floor(max / 3)),
      '漢'.repeat(max),
      '😀'.repeat(max),
      `${'b'.repeat(max - 3)} ab`,
    ];
    for (const text of inputs) {
      const output = validateAndRun(textStatsTool, { text });
      expect(tokens(output)).toBeLessThanOrEqual(textStatsTool.maxOutputTokens);
    }
    // Every count at its largest possible width at once.
    const widest = {
      characters: max,
      charactersNoSpaces: max,
      words: max,
      sentences: max,
      paragraphs: max,
      averageWordLength: 99_999.99,
      readingTimeSeconds: Math.ceil((max * 60) / 238),
    };
    expect(tokens(widest)).toBeLessThanOrEqual(textStatsTool.maxOutputTokens);
  });

  it('summarize stays within maxOutputTokens for the largest inputs', () => {
    const max = SUMMARIZE_MAX_LENGTH;
    const per = Math.floor(max / MAX_SENTENCES_LIMIT);
    const inputs: Array<{ text: string; maxSentences?: number }> = [
      // Quotes and backslashes take two JSON characters each.
      { text: `a${'"'.repeat(per - 3)}. `.repeat(MAX_SENTENCES_LIMIT), maxSentences: 20 },
      { text: `a${'\\'.repeat(max - 2)}.`, maxSentences: 1 },
      // Emoji take two UTF-16 units per character.
      { text: `a${'😀'.repeat(per - 3)}. `.repeat(MAX_SENTENCES_LIMIT), maxSentences: 20 },
      { text: `a${'😀'.repeat(max - 2)}.`, maxSentences: 1 },
      // Lone surrogates and control characters would need six JSON characters each.
      { text: `a${'\uD800'.repeat(per - 3)}. `.repeat(MAX_SENTENCES_LIMIT), maxSentences: 20 },
      { text: `a${'\u0001b'.repeat(max / 2 - 1)}.`, maxSentences: 1 },
      // Many sentences: the largest originalSentenceCount.
      { text: 'a. '.repeat(Math.floor(max / 3)), maxSentences: 20 },
      { text: 'word '.repeat(max / 5 - 1) },
    ];
    for (const input of inputs) {
      const output = validateAndRun(summarizeTool, input);
      expect(tokens(output)).toBeLessThanOrEqual(summarizeTool.maxOutputTokens);
    }
  });

  it('sentiment stays within maxOutputTokens for the largest inputs', () => {
    const byLength = [...SENTIMENT_LEXICON.keys()].sort((a, b) => b.length - a.length);
    const phrases = byLength.flatMap((word) => [`${longestNegator} ${word}s.`, `${word}s.`]);
    const text = phrases.join(' ').slice(0, 50_000);
    const output = validateAndRun(sentimentTool, { text }) as {
      positiveWords: string[];
      negativeWords: string[];
    };
    expect(output.positiveWords).toHaveLength(SENTIMENT_WORD_LIMIT);
    expect(output.negativeWords).toHaveLength(SENTIMENT_WORD_LIMIT);
    expect(tokens(output)).toBeLessThanOrEqual(sentimentTool.maxOutputTokens);

    const huge = validateAndRun(sentimentTool, { text: 'wonderful '.repeat(5_000) });
    expect(tokens(huge)).toBeLessThanOrEqual(sentimentTool.maxOutputTokens);

    // Both lists full of the longest entry the analyser can report.
    const entry = `${longestNegator} ${longestWord}s`;
    const widest = {
      score: -0.1234,
      label: 'negative',
      positiveWords: Array<string>(SENTIMENT_WORD_LIMIT).fill(entry),
      negativeWords: Array<string>(SENTIMENT_WORD_LIMIT).fill(entry),
    };
    expect(tokens(widest)).toBeLessThanOrEqual(sentimentTool.maxOutputTokens);
  });
});
