/**
 * Finds one top-level string member of a JSON object line without parsing
 * the whole line. Result and input lines carry their custom_id near the start
 * while their bodies can be megabytes, so the joiner reads the id from the raw
 * bytes and only parses a line in full when it emits it.
 *
 * The scan is deliberately partial: it returns null whenever the line is not
 * the plain shape it expects (bad JSON, an escaped key, a non-string value),
 * and the caller then falls back to JSON.parse, which gives the exact answer
 * and the exact error.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** Where a string value lies: the bytes between its quotes. */
export interface StringSpan {
  start: number;
  end: number;
  /** True when the raw bytes hold a backslash escape and must be decoded. */
  escaped: boolean;
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

function skipSpace(bytes: Uint8Array, i: number): number {
  while (i < bytes.length && isSpace(bytes[i])) i++;
  return i;
}

/** Index of the closing quote of a string whose opening quote is at `open`, or -1. */
function closingQuote(bytes: Buffer, open: number): number {
  let at = bytes.indexOf(QUOTE, open + 1);
  while (at !== -1) {
    let slashes = 0;
    for (let j = at - 1; j > open && bytes[j] === BACKSLASH; j--) slashes++;
    if (slashes % 2 === 0) return at;
    at = bytes.indexOf(QUOTE, at + 1);
  }
  return -1;
}

/** Index just past the value starting at `i`, or -1 when it is malformed. */
function skipValue(bytes: Buffer, i: number): number {
  const first = bytes[i];
  if (first === QUOTE) {
    const close = closingQuote(bytes, i);
    return close === -1 ? -1 : close + 1;
  }
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    while (i < bytes.length) {
      const b = bytes[i];
      if (b === QUOTE) {
        const close = closingQuote(bytes, i);
        if (close === -1) return -1;
        i = close + 1;
        continue;
      }
      if (b === OPEN_BRACE || b === OPEN_BRACKET) depth++;
      else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return -1;
  }
  // A number or literal ends at the next structural byte or space.
  const start = i;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b === COMMA || b === CLOSE_BRACE || b === CLOSE_BRACKET || isSpace(b)) break;
    i++;
  }
  return i === start ? -1 : i;
}

function hasBackslash(bytes: Buffer, start: number, end: number): boolean {
  const at = bytes.indexOf(BACKSLASH, start);
  return at !== -1 && at < end;
}

/**
 * The span of the string value of the first top-level member named `key`
 * (given as its UTF-8 bytes), or null when the fast scan cannot tell. With
 * `wholeLine` it also walks the rest of the object and returns null unless
 * the line's structure closes cleanly (a truncated line, a stray byte after
 * the object) — string escapes and number formats are not checked.
 */
export function findTopLevelString(bytes: Buffer, key: Buffer, wholeLine = false): StringSpan | null {
  let found: StringSpan | null = null;
  let i = skipSpace(bytes, 0);
  if (bytes[i] !== OPEN_BRACE) return null;
  i = skipSpace(bytes, i + 1);
  if (bytes[i] === CLOSE_BRACE) return null;
  while (i < bytes.length) {
    if (bytes[i] !== QUOTE) return null;
    const keyEnd = closingQuote(bytes, i);
    if (keyEnd === -1) return null;
    const keyStart = i + 1;
    // An escaped key could spell `key` differently; leave that to JSON.parse.
    if (hasBackslash(bytes, keyStart, keyEnd)) return null;
    const matches = keyEnd - keyStart === key.length && bytes.compare(key, 0, key.length, keyStart, keyEnd) === 0;
    i = skipSpace(bytes, keyEnd + 1);
    if (bytes[i] !== COLON) return null;
    i = skipSpace(bytes, i + 1);
    if (matches && !found) {
      if (bytes[i] !== QUOTE) return null;
      const close = closingQuote(bytes, i);
      if (close === -1) return null;
      found = { start: i + 1, end: close, escaped: hasBackslash(bytes, i + 1, close) };
      if (!wholeLine) return found;
    }
    i = skipValue(bytes, i);
    if (i === -1) return null;
    i = skipSpace(bytes, i);
    if (bytes[i] === COMMA) i = skipSpace(bytes, i + 1);
    else if (bytes[i] === CLOSE_BRACE && wholeLine) return skipSpace(bytes, i + 1) === bytes.length ? found : null;
    else return null;
  }
  return null;
}
