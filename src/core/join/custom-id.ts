/**
 * The custom_id of an input or result line, read from the raw bytes as
 * canonical UTF-8 (the whole line is parsed only when the fast scan cannot
 * read it), and the coded errors naming a line that has none.
 */
import { ParseError, ValidationError } from '../../errors.ts';
import { findTopLevelString, isJsonText } from './json-scan.ts';

const CUSTOM_ID_KEY = Buffer.from('custom_id');

/** A custom_id as canonical UTF-8 bytes (escapes decoded), plus its string when already known. */
export interface CustomIdBytes {
  bytes: Buffer;
  text?: string;
}

/** Where a line came from, for the messages of coded errors. */
export interface LineOrigin {
  /** e.g. `input` or `results[2] (out.jsonl)`. */
  source: string;
  line: number;
}

/** `results[2] (out.jsonl) line 7`: how messages name a line. */
export function describeOrigin(origin: LineOrigin): string {
  return `${origin.source} line ${origin.line}`;
}

/**
 * The custom_id of a JSON object line as canonical UTF-8 bytes, so that
 * `"caf\u00e9"` and `"café"` compare equal. Returns null when the line has
 * no string custom_id or is not JSON.
 */
export function customIdOf(bytes: Buffer, wholeLine = false): CustomIdBytes | null {
  const span = findTopLevelString(bytes, CUSTOM_ID_KEY, wholeLine);
  if (span && !span.escaped) return { bytes: bytes.subarray(span.start, span.end) };
  if (span) {
    // The scan does not check escapes: a bad one (`\q`) makes the line invalid JSON, which the
    // callers report as a coded error with its line, so it must not escape from here uncoded.
    let text: string;
    try {
      text = JSON.parse(bytes.toString('utf8', span.start - 1, span.end + 1)) as string;
    } catch {
      return null;
    }
    return { bytes: Buffer.from(text, 'utf8'), text };
  }
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return null;
  }
  const id = (value as { custom_id?: unknown } | null)?.custom_id;
  if (typeof id !== 'string' || typeof value !== 'object' || Array.isArray(value)) return null;
  return { bytes: Buffer.from(id, 'utf8'), text: id };
}

/**
 * The custom_id of an input line, or a coded error naming the line. With
 * `checkLine`, a line that is not valid JSON as a whole is refused too
 * (INVALID_JSON), as the request parser refuses it: the fast scan alone reads
 * only up to the custom_id, and a broken body would otherwise be joined.
 */
export function requestIdOf(bytes: Buffer, origin: LineOrigin, checkLine = false): CustomIdBytes {
  if (!checkLine || isJsonText(bytes)) {
    // The whole line, not just up to the first custom_id: a later one (repeated, or spelt with an
    // escape) is the one JSON.parse and the validator read, and every pass must index the same id.
    const id = customIdOf(bytes, true);
    if (id) return id;
  }
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ParseError('INVALID_JSON', `${describeOrigin(origin)}: not valid JSON (${(err as Error).message})`, {
      line: origin.line,
    });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError('INVALID_REQUEST', `${describeOrigin(origin)}: a request line must be a JSON object`, {
      line: origin.line,
    });
  }
  const present = Object.hasOwn(value, 'custom_id');
  throw new ValidationError(
    present ? 'INVALID_CUSTOM_ID' : 'MISSING_CUSTOM_ID',
    `${describeOrigin(origin)}: ${present ? 'custom_id must be a string' : 'the request has no custom_id'}`,
    { line: origin.line },
  );
}

/** The custom_id as a string. */
export function customIdText(id: CustomIdBytes): string {
  return id.text ?? id.bytes.toString('utf8');
}
