/**
 * What one output or error file line means: its shape, checked, and the
 * status it gives its request. Pure functions over bytes and values.
 */
import { JoinError } from '../../errors.ts';
import type { BatchResultLine, ResultStatus } from '../../types.ts';
import { describeOrigin, type LineOrigin } from './custom-id.ts';
import { findTopLevelValues, isJsonText, type ValueSpan } from './json-scan.ts';

function invalid(origin: LineOrigin, why: string, customId?: string): JoinError {
  return new JoinError('INVALID_RESULT_LINE', `${describeOrigin(origin)}: ${why}`, { line: origin.line, customId });
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
 * missing body would). A 200 response is a success; a 5xx response is a
 * server-side failure (`failed`: the same request may well succeed when sent
 * again); any other status code is a rejection of the request itself
 * (`rejected`: sending it again unchanged fails again).
 */
export function resultStatus(result: BatchResultLine): Exclude<ResultStatus, 'missing'> {
  if (result.error) {
    if (result.error.code === 'batch_expired') return 'expired';
    if (result.error.code === 'batch_cancelled') return 'cancelled';
    return 'failed';
  }
  const statusCode = result.response?.status_code;
  if (statusCode === 200) return 'succeeded';
  return statusCode !== undefined && statusCode >= 500 ? 'failed' : 'rejected';
}

/** A successful response's value opens so: compact JSON and the live files' `": "` spacing both. */
const SUCCESS_MARKS = [Buffer.from('{"status_code":200,'), Buffer.from('{"status_code": 200,')];
/** The API writes `error` last: a line that does not end so is parsed (a cheap first test). */
const NO_ERROR_ENDS = [Buffer.from('"error":null}'), Buffer.from('"error": null}')];
const RESULT_KEYS = [Buffer.from('response'), Buffer.from('error')];
const NULL_VALUE = Buffer.from('null');

/**
 * The spans of `response` and `error` in a result line that plainly reads as
 * a success, without parsing it: its top-level response opens with a 200, its
 * top-level error is null, and the line is one valid JSON text. Null for any
 * other line, which is then parsed whole.
 */
export function plainSuccessSpans(bytes: Buffer): [ValueSpan, ValueSpan] | null {
  if (!NO_ERROR_ENDS.some((end) => endsWith(bytes, end))) return null;
  const spans = findTopLevelValues(bytes, RESULT_KEYS);
  const response = spans?.[0];
  const error = spans?.[1];
  if (!response || !error) return null;
  if (!SUCCESS_MARKS.some((mark) => startsAt(bytes, mark, response.start))) return null;
  if (error.end - error.start !== NULL_VALUE.length || !startsAt(bytes, NULL_VALUE, error.start)) return null;
  return isJsonText(bytes) ? [response, error] : null;
}

function startsAt(bytes: Buffer, mark: Buffer, at: number): boolean {
  return at + mark.length <= bytes.length && bytes.compare(mark, 0, mark.length, at, at + mark.length) === 0;
}

function endsWith(bytes: Buffer, end: Buffer): boolean {
  return bytes.length >= end.length && bytes.compare(end, 0, end.length, bytes.length - end.length) === 0;
}
