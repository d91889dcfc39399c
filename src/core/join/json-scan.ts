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

/** Whether bytes[start, end) hold a backslash (an escape): a short span, looked at byte by byte. */
export function hasBackslash(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] === BACKSLASH) return true;
  return false;
}

/**
 * The span of the string value of the first top-level member named `key`
 * (given as its UTF-8 bytes), or null when the fast scan cannot tell. With
 * `wholeLine` it also walks the rest of the object and returns null unless
 * the line's structure closes cleanly (a truncated line, a stray byte after
 * the object) and `key` occurs once — string escapes and number formats are
 * not checked.
 */
/** Where a member's key lies and where its value starts; one scratch record, as the scans run on every line. */
const member = { keyStart: 0, keyEnd: 0, value: 0 };

/**
 * Reads the member key opening at `i` (a quote) and its colon into `member`;
 * false when it is not plainly a key (an escaped key could spell a name
 * differently; that is left to JSON.parse).
 */
function memberAt(bytes: Buffer, i: number): boolean {
  if (bytes[i] !== QUOTE) return false;
  const keyEnd = closingQuote(bytes, i);
  if (keyEnd === -1 || hasBackslash(bytes, i + 1, keyEnd)) return false;
  const colon = skipSpace(bytes, keyEnd + 1);
  if (bytes[colon] !== COLON) return false;
  member.keyStart = i + 1;
  member.keyEnd = keyEnd;
  member.value = skipSpace(bytes, colon + 1);
  return true;
}

function keyIs(bytes: Buffer, key: Buffer): boolean {
  return member.keyEnd - member.keyStart === key.length && bytes.compare(key, 0, key.length, member.keyStart, member.keyEnd) === 0;
}

export function findTopLevelString(bytes: Buffer, key: Buffer, wholeLine = false): StringSpan | null {
  let found: StringSpan | null = null;
  let i = skipSpace(bytes, 0);
  if (bytes[i] !== OPEN_BRACE) return null;
  i = skipSpace(bytes, i + 1);
  if (bytes[i] === CLOSE_BRACE) return null;
  while (i < bytes.length) {
    if (!memberAt(bytes, i)) return null;
    const matches = keyIs(bytes, key);
    i = member.value;
    // JSON.parse keeps the last of repeated keys, and so do the validator and the Batch API: a second
    // `key` leaves the answer to it, or the joiner would index a request under another id than it has.
    if (matches && found) return null;
    if (matches) {
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

/** Where a value lies, from its first byte to just past its last. */
export interface ValueSpan {
  start: number;
  end: number;
}

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');

function isDigit(b: number): boolean {
  return b >= DIGIT_0 && b <= DIGIT_9;
}

function isHex(b: number): boolean {
  return isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

/** Index just past a string opening at `open` whose escapes and bytes are all valid, or -1. */
function strictStringEnd(bytes: Uint8Array, open: number): number {
  let i = open + 1;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b === QUOTE) return i + 1;
    if (b < 0x20) return -1;
    if (b !== BACKSLASH) {
      i++;
      continue;
    }
    const e = bytes[i + 1];
    // \" \\ \/ \b \f \n \r \t
    if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
      i += 2;
    } else if (e === 0x75 && isHex(bytes[i + 2]) && isHex(bytes[i + 3]) && isHex(bytes[i + 4]) && isHex(bytes[i + 5])) {
      i += 6;
    } else {
      return -1;
    }
  }
  return -1;
}

/** Index just past a number starting at `i` (JSON's grammar: no leading zeros, `+`, bare `.`), or -1. */
function strictNumberEnd(bytes: Uint8Array, i: number): number {
  if (bytes[i] === MINUS) i++;
  if (bytes[i] === DIGIT_0) i++;
  else if (isDigit(bytes[i])) while (isDigit(bytes[i])) i++;
  else return -1;
  if (bytes[i] === DOT) {
    if (!isDigit(bytes[++i])) return -1;
    while (isDigit(bytes[i])) i++;
  }
  if (bytes[i] === 0x65 || bytes[i] === 0x45) {
    i++;
    if (bytes[i] === PLUS || bytes[i] === MINUS) i++;
    if (!isDigit(bytes[i])) return -1;
    while (isDigit(bytes[i])) i++;
  }
  return i;
}

function literalEnd(bytes: Buffer, i: number, literal: Buffer): number {
  if (i + literal.length > bytes.length) return -1;
  return bytes.compare(literal, 0, literal.length, i, i + literal.length) === 0 ? i + literal.length : -1;
}

const VALUE = 0;
const KEY = 1;
const AFTER = 2;

/**
 * Told of the object members near the top of a JSON text as one scan checks
 * it: each key at depth 1 (the top-level object's members) and 2 (theirs),
 * and each such member's value span once the value has been read. Returning
 * false refuses the text.
 */
export interface MemberWatch {
  /** A key at `depth`: the bytes between its quotes are `start`…`end`. */
  key(bytes: Buffer, depth: 1 | 2, start: number, end: number): boolean;
  /** The value of the member whose key was last told at `depth`: `start`…`end`. */
  value(depth: 1 | 2, start: number, end: number): void;
}

/**
 * True when `bytes` are one JSON text that JSON.parse accepts (after UTF-8
 * decoding, which turns invalid sequences into U+FFFD, so any byte ≥ 0x80 is
 * accepted inside a string). It allocates nothing but a small stack for the
 * nesting, so a whole input can be checked far more cheaply than parsed.
 */
export function isJsonText(bytes: Buffer): boolean {
  return scanJsonText(bytes, null);
}

/** isJsonText, telling `watch` of the members at depth 1 and 2 on the way. */
export function scanJsonText(bytes: Buffer, watch: MemberWatch | null): boolean {
  // Open containers, innermost last: true for an object, false for an array.
  const open: boolean[] = [];
  // For each open container, where its value began when it is a watched member's value (else -1).
  const starts: number[] = [];
  let state = VALUE;
  let valueStart = -1;
  let i = skipSpace(bytes, 0);
  for (;;) {
    if (state === VALUE) {
      const b = bytes[i];
      // A member's value at depth 1 or 2 (open.length is the depth of the object it is in).
      const watched = watch !== null && valueStart === i;
      if (b === OPEN_BRACE || b === OPEN_BRACKET) {
        const at = i;
        i = skipSpace(bytes, i + 1);
        if (bytes[i] === (b === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET)) {
          i++;
          if (watched) watch.value(open.length as 1 | 2, at, i);
          state = AFTER;
        } else {
          open.push(b === OPEN_BRACE);
          starts.push(watched ? at : -1);
          state = b === OPEN_BRACE ? KEY : VALUE;
        }
        continue;
      }
      const at = i;
      if (b === QUOTE) i = strictStringEnd(bytes, i);
      else if (b === MINUS || isDigit(b)) i = strictNumberEnd(bytes, i);
      else if (b === 0x74) i = literalEnd(bytes, i, TRUE);
      else if (b === 0x66) i = literalEnd(bytes, i, FALSE);
      else if (b === 0x6e) i = literalEnd(bytes, i, NULL);
      else return false;
      if (i === -1) return false;
      if (watched) watch.value(open.length as 1 | 2, at, i);
      state = AFTER;
    } else if (state === KEY) {
      if (bytes[i] !== QUOTE) return false;
      const keyStart = i + 1;
      i = strictStringEnd(bytes, i);
      if (i === -1) return false;
      const depth = open.length;
      if (watch !== null && depth <= 2 && !watch.key(bytes, depth as 1 | 2, keyStart, i - 1)) return false;
      i = skipSpace(bytes, i);
      if (bytes[i] !== COLON) return false;
      i = skipSpace(bytes, i + 1);
      valueStart = depth <= 2 ? i : -1;
      state = VALUE;
    } else {
      i = skipSpace(bytes, i);
      if (open.length === 0) return i === bytes.length;
      const inObject = open[open.length - 1];
      const b = bytes[i];
      if (b === COMMA) {
        i = skipSpace(bytes, i + 1);
        state = inObject ? KEY : VALUE;
      } else if (b === (inObject ? CLOSE_BRACE : CLOSE_BRACKET)) {
        open.pop();
        const at = starts.pop() as number;
        i++;
        if (at !== -1) (watch as MemberWatch).value(open.length as 1 | 2, at, i);
      } else {
        return false;
      }
    }
  }
}
