/**
 * What one result line means: its shape, checked, and its status. Pure
 * functions over bytes and values, shared by the joiner and its tests.
 */
import { JoinError, ParseError, ValidationError } from '../../errors.ts';
import type { BatchResultLine, ResultStatus } from '../../types.ts';
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

function describe(origin: LineOrigin): string {
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
    throw new ParseError('INVALID_JSON', `${describe(origin)}: not valid JSON (${(err as Error).message})`, {
      line: origin.line,
    });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ParseError('NOT_AN_OBJECT', `${describe(origin)}: a request line must be a JSON object`, {
      line: origin.line,
    });
  }
  const present = Object.hasOwn(value, 'custom_id');
  throw new ValidationError(
    present ? 'INVALID_CUSTOM_ID' : 'MISSING_CUSTOM_ID',
    `${describe(origin)}: ${present ? 'custom_id must be a string' : 'the request has no custom_id'}`,
    { line: origin.line },
  );
}

/** The custom_id as a string. */
export function customIdText(id: CustomIdBytes): string {
  return id.text ?? id.bytes.toString('utf8');
}

function invalid(origin: LineOrigin, why: string, customId?: string): JoinError {
  return new JoinError('INVALID_RESULT_LINE', `${describe(origin)}: ${why}`, { line: origin.line, customId });
}

/** Parses and checks one output or error file line. */
export function parseResultLine(bytes: Buffer, origin: LineOrigin): BatchResultLine {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw invalid(origin, `not valid JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(origin, 'not a JSON object');
  const record = value as Record<string, unknown>;
  const customId = record.custom_id;
  if (typeof customId !== 'string') throw invalid(origin, 'custom_id must be a string');
  const response = record.response ?? null;
  const error = record.error ?? null;
  if (response !== null) {
    const status = (response as { status_code?: unknown }).status_code;
    if (typeof response !== 'object' || Array.isArray(response) || !Number.isInteger(status)) {
      throw invalid(origin, 'response must be null or an object with an integer status_code', customId);
    }
  }
  if (error !== null) {
    if (typeof error !== 'object' || Array.isArray(error) || typeof (error as { code?: unknown }).code !== 'string') {
      throw invalid(origin, 'error must be null or an object with a string code', customId);
    }
  }
  if (response === null && error === null) throw invalid(origin, 'a result line needs a response or an error', customId);
  return {
    id: typeof record.id === 'string' ? record.id : '',
    custom_id: customId,
    response: response as BatchResultLine['response'],
    error: error as BatchResultLine['error'],
  };
}

/**
 * The status a result line gives its request. An error decides first (the
 * Batch API sets either one or the other, and an error explains more than a
 * missing body would); a 200 response is a success, any other status code a
 * rejection by the model endpoint.
 */
export function resultStatus(result: BatchResultLine): Exclude<ResultStatus, 'missing'> {
  if (result.error) {
    if (result.error.code === 'batch_expired') return 'expired';
    if (result.error.code === 'batch_cancelled') return 'cancelled';
    return 'failed';
  }
  return result.response?.status_code === 200 ? 'succeeded' : 'rejected';
}
