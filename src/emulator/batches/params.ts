/** The parameters of POST /v1/batches, checked as the service checks them: every problem a 400 naming its param. */
import { SUPPORTED_ENDPOINTS, type BatchEndpoint } from '../../types.ts';
import { EmulatorHttpError } from '../http-error.ts';
import type { FileStore } from '../store/file-store.ts';

export interface BatchParams {
  inputFileId: string;
  endpoint: BatchEndpoint;
  metadata: Record<string, string> | null;
  outputExpiresAfterSeconds: number | null;
}

const KNOWN_PARAMS = new Set(['input_file_id', 'endpoint', 'completion_window', 'metadata', 'output_expires_after']);

function badRequest(message: string, param: string | null, code: string | null = 'invalid_value'): EmulatorHttpError {
  return new EmulatorHttpError(400, message, { param, code });
}

/** Checks POST /v1/batches parameters as the service does; every problem is a 400 naming its param. */
export function parseCreateParams(params: unknown, store: FileStore): BatchParams {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw badRequest('The request body must be a JSON object.', null, 'invalid_request_body');
  }
  const body = params as Record<string, unknown>;
  for (const key of Object.keys(body)) {
    if (!KNOWN_PARAMS.has(key)) throw badRequest(`Unrecognized request argument supplied: ${key}`, key, 'unknown_parameter');
  }
  for (const key of ['input_file_id', 'endpoint', 'completion_window'] as const) {
    if (body[key] === undefined || body[key] === null) {
      throw badRequest(`Missing required parameter: '${key}'.`, key, 'missing_required_parameter');
    }
    if (typeof body[key] !== 'string') throw badRequest(`Invalid type for '${key}': expected a string.`, key, 'invalid_type');
  }
  const inputFileId = body.input_file_id as string;
  const file = store.get(inputFileId);
  if (!file) throw badRequest(`No such File object: ${inputFileId}`, 'input_file_id', 'invalid_file');
  if (file.purpose !== 'batch') {
    throw badRequest(`The input file ${inputFileId} has purpose '${file.purpose}'; batch input files must be uploaded with purpose 'batch'.`, 'input_file_id', 'invalid_file');
  }
  const endpoint = body.endpoint as string;
  if (!(SUPPORTED_ENDPOINTS as readonly string[]).includes(endpoint)) {
    throw badRequest(`Invalid value for 'endpoint': ${JSON.stringify(endpoint)}. Supported values are: ${SUPPORTED_ENDPOINTS.join(', ')}.`, 'endpoint');
  }
  if (body.completion_window !== '24h') {
    throw badRequest(`Invalid value for 'completion_window': ${JSON.stringify(body.completion_window)}. Supported values are: '24h'.`, 'completion_window');
  }
  return {
    inputFileId,
    endpoint: endpoint as BatchEndpoint,
    metadata: parseMetadata(body.metadata),
    outputExpiresAfterSeconds: parseOutputExpiresAfter(body.output_expires_after),
  };
}

function parseMetadata(value: unknown): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest("Invalid type for 'metadata': expected an object.", 'metadata', 'invalid_type');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > 16) throw badRequest(`Invalid 'metadata': at most 16 key-value pairs, got ${entries.length}.`, 'metadata');
  for (const [key, item] of entries) {
    if (key.length > 64) throw badRequest(`Invalid 'metadata': key ${JSON.stringify(key.slice(0, 20))}… is longer than 64 characters.`, 'metadata');
    if (typeof item !== 'string') throw badRequest(`Invalid type for 'metadata.${key}': expected a string.`, `metadata.${key}`, 'invalid_type');
    if (item.length > 512) throw badRequest(`Invalid 'metadata.${key}': the value is longer than 512 characters.`, `metadata.${key}`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

function parseOutputExpiresAfter(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest("Invalid type for 'output_expires_after': expected an object.", 'output_expires_after', 'invalid_type');
  }
  const { anchor, seconds } = value as Record<string, unknown>;
  if (anchor !== 'created_at') throw badRequest("Invalid value for 'output_expires_after.anchor': only 'created_at' is supported.", 'output_expires_after.anchor');
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 3600 || seconds > 2_592_000) {
    throw badRequest("Invalid value for 'output_expires_after.seconds': an integer from 3600 to 2592000.", 'output_expires_after.seconds');
  }
  return seconds;
}
