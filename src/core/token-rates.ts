/**
 * The fast token estimate of a text: tokens per character by character
 * class, without a tokenizer. Plain "characters ÷ 4" holds for English prose
 * only: JSON costs nearly twice that (every quote and brace is a token or
 * most of one) and Chinese or Japanese four times. These rates were fitted
 * against gpt-tokenizer's o200k_base and cl100k_base counts of 1.2 KB pieces
 * of English prose, JavaScript, JSON and thirteen languages
 * (benchmarks/tokens.bench.ts measures them again on every run); on text
 * held out from the fit each class lands within ±13 % of the exact count,
 * traditional Chinese (−20 %) aside.
 */

/** The tokenizer vocabularies batchline counts with: o200k_base for gpt-4o and later, cl100k_base before. */
export type EncodingName = 'o200k_base' | 'cl100k_base';

/** Tokens per UTF-16 code unit of each character class, in hundredths (the loop adds integers). */
export interface TokenRates {
  /** ASCII letters and digits, and a whitespace character that follows none. */
  readonly word: number;
  /** A whitespace character after another: indentation and blank lines merge into few tokens. */
  readonly whitespaceRun: number;
  /** ASCII punctuation and symbols: quotes, braces, colons, commas. */
  readonly punctuation: number;
  /** U+0080–U+036F: accented Latin letters, which split the words they sit in. */
  readonly latinExtended: number;
  /** U+0370–U+1FFF: Greek, Cyrillic, Hebrew, Arabic, Indic and the other alphabets (fitted on Cyrillic). */
  readonly otherAlphabet: number;
  /** CJK ideographs, kana, hangul and full-width forms. */
  readonly cjk: number;
  /** Typographic punctuation, arrows, symbols, private use: about a token each. */
  readonly symbol: number;
  /** Each half of a surrogate pair: an emoji or a rare ideograph costs one to two tokens. */
  readonly surrogate: number;
}

export const TOKEN_RATES: Readonly<Record<EncodingName, TokenRates>> = {
  o200k_base: { word: 0.21, whitespaceRun: 0.25, punctuation: 0.55, latinExtended: 1, otherAlphabet: 0.24, cjk: 0.79, symbol: 1, surrogate: 0.75 },
  cl100k_base: { word: 0.22, whitespaceRun: 0.19, punctuation: 0.49, latinExtended: 1.72, otherAlphabet: 0.41, cjk: 1.1, symbol: 1, surrogate: 0.75 },
};

// Character classes. Whitespace is the one class with bit 16 set, so that
// `previous & current & WHITESPACE` finds a whitespace run without a branch.
const WORD = 0;
const PUNCTUATION = 1;
const LATIN_EXTENDED = 2;
const OTHER_ALPHABET = 3;
const CJK = 4;
const SYMBOL = 5;
const SURROGATE = 6;
const WHITESPACE = 16;

function classOf(code: number): number {
  if (code === 32 || code === 10 || code === 9 || code === 13) return WHITESPACE;
  if ((code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122)) return WORD;
  if (code < 0x80) return PUNCTUATION;
  if (code < 0x370) return LATIN_EXTENDED;
  if (code < 0x2000) return OTHER_ALPHABET;
  if (code < 0x2e80) return SYMBOL;
  if (code < 0xd800) return CJK;
  if (code < 0xe000) return SURROGATE;
  if ((code >= 0xf900 && code < 0xfb00) || (code >= 0xff00 && code < 0xfff0)) return CJK;
  return SYMBOL;
}

/** The class of every UTF-16 code unit (64 KiB, built once). */
const CHAR_CLASSES = Uint8Array.from({ length: 0x10000 }, (_, code) => classOf(code));

/**
 * Each class's rate in hundredths of a token, indexed by class, with a
 * whitespace run's rate at 2 × WHITESPACE. Integers, because adding them is
 * what the loop below does per character: a floating-point sum ran at half
 * the speed (its add latency is the loop's critical path).
 */
function rateTable(rates: TokenRates): Int32Array {
  const table = new Int32Array(2 * WHITESPACE + 1);
  const hundredths = (rate: number): number => Math.round(rate * 100);
  table[WORD] = hundredths(rates.word);
  table[PUNCTUATION] = hundredths(rates.punctuation);
  table[LATIN_EXTENDED] = hundredths(rates.latinExtended);
  table[OTHER_ALPHABET] = hundredths(rates.otherAlphabet);
  table[CJK] = hundredths(rates.cjk);
  table[SYMBOL] = hundredths(rates.symbol);
  table[SURROGATE] = hundredths(rates.surrogate);
  table[WHITESPACE] = hundredths(rates.word);
  table[2 * WHITESPACE] = hundredths(rates.whitespaceRun);
  return table;
}

const RATE_TABLES: Readonly<Record<EncodingName, Int32Array>> = {
  o200k_base: rateTable(TOKEN_RATES.o200k_base),
  cl100k_base: rateTable(TOKEN_RATES.cl100k_base),
};

/** The estimated tokens of `text` in `encoding`, as a fraction: the caller rounds the sum of a request's texts once. */
export function fastTextTokens(text: string, encoding: EncodingName): number {
  const rates = RATE_TABLES[encoding];
  let hundredths = 0;
  let previous = WORD;
  for (let i = 0; i < text.length; i++) {
    const charClass = CHAR_CLASSES[text.charCodeAt(i)];
    hundredths += rates[(previous & charClass & WHITESPACE) + charClass];
    previous = charClass;
  }
  return hundredths / 100;
}
