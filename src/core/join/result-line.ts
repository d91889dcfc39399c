/**
 * What one output or error file line means: its shape, checked, and the
 * status it gives its request. Pure functions over bytes and values.
 */
import { JoinError } from '../../errors.ts';
import type { BatchResultLine, ResultStatus } from '../../types.ts';
import { describeOrigin, type LineOrigin } from './custom-id.ts';
import { hasBackslash, scanJsonText, type MemberWatch, type ValueSpan } from './json-scan.ts';

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

/** The API writes `error` last: a line that does not end so is parsed (a cheap first test). */
const NO_ERROR_ENDS = [Buffer.from('"error":null}'), Buffer.from('"error": null}')];
const RESPONSE = Buffer.from('response');
const ERROR = Buffer.from('error');
const STATUS_CODE = Buffer.from('status_code');
const NULL_VALUE = Buffer.from('null');
const OK_STATUS = Buffer.from('200');

/**
 * Watches a result line's scan for its top-level `response` and `error` and
 * the response's own `status_code`. An escaped key at those depths, or one of
 * those keys given twice, refuses the line: JSON.parse would read the last,
 * and the fast path cannot vouch for which that is.
 */
class ResultMembers implements MemberWatch {
  response: ValueSpan | null = null;
  error: ValueSpan | null = null;
  status: ValueSpan | null = null;
  #top: 'response' | 'error' | 'other' = 'other';
  #inner: 'status' | 'other' = 'other';

  reset(): this {
    this.response = this.error = this.status = null;
    return this;
  }

  key(bytes: Buffer, depth: 1 | 2, start: number, end: number): boolean {
    if (hasBackslash(bytes, start, end)) return false;
    if (depth === 1) {
      this.#top = isKey(bytes, start, end, RESPONSE) ? 'response' : isKey(bytes, start, end, ERROR) ? 'error' : 'other';
      return !((this.#top === 'response' && this.response) || (this.#top === 'error' && this.error));
    }
    this.#inner = this.#top === 'response' && isKey(bytes, start, end, STATUS_CODE) ? 'status' : 'other';
    return !(this.#inner === 'status' && this.status);
  }

  value(depth: 1 | 2, start: number, end: number): void {
    if (depth === 2) {
      if (this.#inner === 'status') this.status = { start, end };
    } else if (this.#top === 'response') this.response = { start, end };
    else if (this.#top === 'error') this.error = { start, end };
  }
}

const members = new ResultMembers();

/**
 * The spans of `response` and `error` in a result line that plainly reads as
 * a success, without parsing it: one valid JSON text whose top-level response
 * holds `"status_code": 200` and whose top-level error is null, with none of
 * those keys escaped or given twice. Null for any other line, which is then
 * parsed whole. One scan checks the text and finds the members. It does not
 * look at `custom_id`: its callers read that themselves.
 */
export function plainSuccessSpans(bytes: Buffer): [ValueSpan, ValueSpan] | null {
  if (!NO_ERROR_ENDS.some((end) => endsWith(bytes, end))) return null;
  const found = members.reset();
  if (!scanJsonText(bytes, found)) return null;
  const { response, error, status } = found;
  if (!response || !error || !status) return null;
  if (!isKey(bytes, status.start, status.end, OK_STATUS) || !isKey(bytes, error.start, error.end, NULL_VALUE)) return null;
  return [response, error];
}

function isKey(bytes: Buffer, start: number, end: number, key: Buffer): boolean {
  return end - start === key.length && bytes.compare(key, 0, key.length, start, end) === 0;
}


function endsWith(bytes: Buffer, end: Buffer): boolean {
  return bytes.length >= end.length && bytes.compare(end, 0, end.length, bytes.length - end.length) === 0;
}
