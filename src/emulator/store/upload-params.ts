/** The parameters of POST /v1/uploads, checked as the service checks them: every problem a 400 naming its param. */
import { EmulatorHttpError } from '../http-error.ts';
import { fileTtlSeconds, isJsonlFileName } from './file-store.ts';

export const UPLOAD_PURPOSES = ['assistants', 'batch', 'fine-tune', 'vision'] as const;
const JSONL_MIME_TYPES = ['text/jsonl', 'application/jsonl', 'application/x-ndjson', 'application/json', 'text/plain'];

export interface UploadParams {
  filename: string;
  purpose: string;
  bytes: number;
  /** Seconds after its creation that the assembled file expires, from `expires_after`. */
  fileTtlSeconds: number | null;
}

function badRequest(message: string, param: string | null = null, code: string | null = null): EmulatorHttpError {
  return new EmulatorHttpError(400, message, { param, code });
}

export function parseUploadParams(params: unknown, maxUploadBytes: number): UploadParams {
  const body = (params ?? {}) as Record<string, unknown>;
  const { filename, purpose, bytes, mime_type: mimeType } = body;
  if (typeof filename !== 'string' || filename === '') throw badRequest("Missing required parameter: 'filename'.", 'filename');
  if (typeof purpose !== 'string') throw badRequest("Missing required parameter: 'purpose'.", 'purpose');
  if (!(UPLOAD_PURPOSES as readonly string[]).includes(purpose)) {
    throw badRequest(`Invalid value for 'purpose': ${JSON.stringify(purpose)}; expected one of ${UPLOAD_PURPOSES.join(', ')}.`, 'purpose', 'invalid_value');
  }
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) {
    throw badRequest("Invalid value for 'bytes': expected a whole number of bytes.", 'bytes', 'invalid_value');
  }
  if (bytes > maxUploadBytes) {
    throw badRequest(`An Upload can hold at most ${maxUploadBytes} bytes; ${bytes} requested.`, 'bytes', 'invalid_value');
  }
  if (typeof mimeType !== 'string' || mimeType === '') throw badRequest("Missing required parameter: 'mime_type'.", 'mime_type');
  if (purpose === 'batch' || purpose === 'fine-tune') {
    if (!isJsonlFileName(filename)) {
      throw badRequest(`Invalid file format for ${purpose}: ${JSON.stringify(filename)}. Only .jsonl files are supported.`, 'filename', 'invalid_file_format');
    }
    if (!JSONL_MIME_TYPES.includes(mimeType.toLowerCase())) {
      throw badRequest(`Invalid mime_type for purpose ${purpose}: ${JSON.stringify(mimeType)}. Use text/jsonl.`, 'mime_type', 'invalid_value');
    }
  }
  return { filename, purpose, bytes, fileTtlSeconds: fileTtlSeconds(purpose, body.expires_after) };
}

/** `part_ids` (in the order the file is assembled) and the optional `md5` of POST /v1/uploads/{id}/complete. */
export function parseCompleteParams(params: unknown): { partIds: string[]; md5: string | undefined } {
  const body = (params ?? {}) as Record<string, unknown>;
  const partIds = body.part_ids;
  if (!Array.isArray(partIds) || partIds.some((partId) => typeof partId !== 'string')) {
    throw badRequest("Missing required parameter: 'part_ids' (an array of Part ids).", 'part_ids');
  }
  if (body.md5 !== undefined && typeof body.md5 !== 'string') throw badRequest("Invalid type for 'md5': expected a string.", 'md5');
  return { partIds: partIds as string[], md5: body.md5 as string | undefined };
}
