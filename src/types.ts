/** Shapes shared by the stages, the pipeline and the CLI. */

export const SUPPORTED_ENDPOINTS = [
  '/v1/responses',
  '/v1/chat/completions',
  '/v1/embeddings',
  '/v1/completions',
  '/v1/moderations',
] as const;

export type BatchEndpoint = (typeof SUPPORTED_ENDPOINTS)[number];

export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

/** The statuses a batch never leaves. */
export const TERMINAL_BATCH_STATUSES: ReadonlySet<string> = new Set<BatchStatus>(['completed', 'failed', 'expired', 'cancelled']);

/** One line of a Batch API input file. */
export interface BatchRequest {
  custom_id: string;
  method: 'POST';
  url: BatchEndpoint;
  body: { model: string; [key: string]: unknown };
}

/** One parsed input line. `bytes` is the raw line without its line break (absent for object-mode input). */
export interface ParsedLine<T = unknown> {
  line: number;
  value: T;
  bytes?: Buffer;
}

/** A request that passed validation, still carrying where it came from. */
export interface ValidRequest extends ParsedLine<BatchRequest> {}

/** A finished, fsynced shard file ready for upload. */
export interface ShardDescriptor {
  index: number;
  path: string;
  bytes: number;
  requests: number;
  endpoint: BatchEndpoint;
  model: string;
  firstLine: number;
  lastLine: number;
  sha256: string;
  md5: string;
}

/** One line of a Batch API output or error file. */
export interface BatchResultLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: unknown } | null;
  error: { code: string; message: string } | null;
}

export type ResultStatus = 'succeeded' | 'failed' | 'rejected' | 'expired' | 'cancelled' | 'missing';

/** One joined result per input request, in input order. */
export interface JoinedResult {
  custom_id: string;
  line: number;
  status: ResultStatus;
  response: BatchResultLine['response'];
  error: BatchResultLine['error'];
  request?: BatchRequest;
}
