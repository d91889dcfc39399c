import { invalidOption, ValidationError } from '../errors.ts';
import { SUPPORTED_ENDPOINTS, type BatchEndpoint, type BatchRequest } from '../types.ts';

/** The body field each endpoint cannot do without (besides `model`). */
export const REQUIRED_BODY_FIELDS: Readonly<Record<BatchEndpoint, string>> = {
  '/v1/chat/completions': 'messages',
  '/v1/embeddings': 'input',
  '/v1/responses': 'input',
  '/v1/moderations': 'input',
  '/v1/completions': 'prompt',
  // The media endpoints take more (an edit needs its image), but a prompt is what every request of theirs carries.
  '/v1/images/generations': 'prompt',
  '/v1/images/edits': 'prompt',
  '/v1/videos': 'prompt',
};

export function isSupportedEndpoint(url: unknown): url is BatchEndpoint {
  return typeof url === 'string' && (SUPPORTED_ENDPOINTS as readonly string[]).includes(url);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks one value against the Batch API's per-line rules and returns it typed.
 * Run-wide rules (unique ids, one endpoint) are the caller's: see RequestChecker.
 */
export function checkRequest(value: unknown, line: number): BatchRequest {
  if (!isPlainObject(value)) {
    throw new ValidationError('INVALID_REQUEST', `line ${line} is not a JSON object`, { line });
  }
  const customId = value.custom_id;
  if (customId === undefined || customId === null) {
    throw new ValidationError('MISSING_CUSTOM_ID', `line ${line} has no custom_id`, { line });
  }
  if (typeof customId !== 'string' || customId.length === 0) {
    throw new ValidationError('INVALID_CUSTOM_ID', `custom_id on line ${line} must be a non-empty string`, { line });
  }
  const where = { line, customId };
  if (value.method !== 'POST') {
    throw new ValidationError('INVALID_METHOD', `method on line ${line} must be "POST", got ${JSON.stringify(value.method)}`, where);
  }
  const url = value.url;
  if (!isSupportedEndpoint(url)) {
    throw new ValidationError(
      'UNSUPPORTED_ENDPOINT',
      `url on line ${line} must be one of ${SUPPORTED_ENDPOINTS.join(', ')}, got ${JSON.stringify(url)}`,
      where,
    );
  }
  const body = value.body;
  if (!isPlainObject(body)) {
    throw new ValidationError('INVALID_BODY', `body on line ${line} must be a JSON object`, where);
  }
  if (typeof body.model !== 'string' || body.model.length === 0) {
    throw new ValidationError('MISSING_MODEL', `body.model on line ${line} must be a non-empty string`, where);
  }
  const field = REQUIRED_BODY_FIELDS[url];
  const required = body[field];
  if (required === undefined || required === null || (field === 'messages' && !Array.isArray(required))) {
    throw new ValidationError(
      'MISSING_BODY_FIELD',
      `body.${field} on line ${line} is required by ${url}${field === 'messages' ? ' and must be an array' : ''}`,
      where,
    );
  }
  return value as unknown as BatchRequest;
}

/** How to build a request from a row of a database cursor, a queue message, … */
export interface RequestSpec<Row> {
  /** The row's custom_id: a function, or the name of the row's property that holds it. */
  customId: ((row: Row) => string) | (keyof Row & string);
  endpoint: BatchEndpoint;
  /** The request body; must carry `model`. */
  body: (row: Row) => Record<string, unknown>;
}

/** Builds a Batch API request from a row; checkRequest still runs on the result. */
export function toRequest<Row>(row: Row, spec: RequestSpec<Row>): BatchRequest {
  const customId = typeof spec.customId === 'function' ? spec.customId(row) : (row as Record<string, unknown>)[spec.customId];
  return {
    custom_id: typeof customId === 'number' || typeof customId === 'bigint' ? String(customId) : (customId as string),
    method: 'POST',
    url: spec.endpoint,
    body: spec.body(row) as BatchRequest['body'],
  };
}

/** Checks the options of a RequestSpec once, naming the bad one. */
export function checkRequestSpec(spec: RequestSpec<unknown>): void {
  if (typeof spec.customId !== 'function' && typeof spec.customId !== 'string') {
    throw invalidOption('customId', 'toRequest: customId must be a function or a property name');
  }
  if (!isSupportedEndpoint(spec.endpoint)) {
    throw invalidOption('endpoint', `toRequest: endpoint must be one of ${SUPPORTED_ENDPOINTS.join(', ')}`);
  }
  if (typeof spec.body !== 'function') throw invalidOption('body', 'toRequest: body must be a function');
}
