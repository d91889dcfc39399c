/**
 * What one output or error file line means: its shape, checked, and the
 * status it gives its request. Pure functions over bytes and values.
 */
import { JoinError } from '../../errors.ts';
import type { BatchResultLine, ResultStatus } from '../../types.ts';
import { describeOrigin, type LineOrigin } from './custom-id.ts';

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

/** The response's status, written first in it; compact JSON and the live files' `": "` spacing both. */
const SUCCESS_MARKS = [Buffer.from('"response":{"status_code":200,'), Buffer.from('"response": {"status_code": 200,')];
/** The API writes `error` last: a line that ends so has no top-level error (a nested one could not end the line). */
const NO_ERROR_ENDS = [Buffer.from('"error":null}'), Buffer.from('"error": null}')];

const RESPONSE_KEY = Buffer.from('"response"');

/**
 * A result line that plainly reads as a success, without parsing it: its first `"response"` (the
 * top-level key: a quote inside a string value would be escaped) opens with a
 * 200, and the line ends with a null error.
 */
export function isPlainSuccess(bytes: Buffer): boolean {
  if (!NO_ERROR_ENDS.some((end) => endsWith(bytes, end))) return false;
  const at = bytes.indexOf(RESPONSE_KEY);
  return at !== -1 && SUCCESS_MARKS.some((mark) => bytes.indexOf(mark, at) === at);
}

function endsWith(bytes: Buffer, end: Buffer): boolean {
  return bytes.length >= end.length && bytes.compare(end, 0, end.length, bytes.length - end.length) === 0;
}
