/** Shapes shared by the stages, the pipeline and the CLI. */

/** The endpoints a batch may target (spec v2.3.0). */
export const SUPPORTED_ENDPOINTS = [
  '/v1/responses',
  '/v1/chat/completions',
  '/v1/embeddings',
  '/v1/completions',
  '/v1/moderations',
  '/v1/images/generations',
  '/v1/images/edits',
  '/v1/videos',
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
  /** Estimated input tokens of its requests (when the sharder was given an estimate). */
  tokens?: number;
}

/** One line of a Batch API output or error file. */
export interface BatchResultLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: unknown } | null;
  error: { code: string; message: string } | null;
}

/**
 * What became of one request: `succeeded` (a 200 answer), `rejected` (a 4xx
 * answer: the request itself was refused), `failed` (a 5xx answer or another
 * error: a server-side failure, worth sending again), `expired` / `cancelled`
 * (the batch stopped before it), `missing` (no result line at all).
 */
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

// ── API objects: the shapes the Files, Uploads and Batches endpoints send (OpenAPI spec v2.3.0). ──
// Both the client stages and the emulator use them; absent values are null, as the live API sends them.

/** One item of a batch's `errors.data`. */
export interface BatchErrorItem {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

export interface BatchUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/** The Batch object. `output_file_id`/`error_file_id` may be null or "" when absent: treat both as absent. */
export interface BatchObject {
  id: string;
  object: 'batch';
  endpoint: BatchEndpoint;
  model: string | null;
  errors: { object: 'list'; data: BatchErrorItem[] } | null;
  input_file_id: string;
  completion_window: '24h';
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: { total: number; completed: number; failed: number };
  usage: BatchUsage;
  metadata: Record<string, string> | null;
}

/** The Files API object (OpenAIFile in the spec). */
export interface FileObject {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  expires_at: number | null;
  filename: string;
  purpose: string;
  status: 'uploaded' | 'processed' | 'error';
  status_details: string | null;
}

/** The Uploads API object. */
export interface UploadObject {
  id: string;
  object: 'upload';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: 'pending' | 'completed' | 'cancelled' | 'expired';
  expires_at: number;
  file: FileObject | null;
}

export interface UploadPartObject {
  id: string;
  object: 'upload.part';
  created_at: number;
  upload_id: string;
}

/** One page of a cursor-paginated list (`GET /v1/batches`, `GET /v1/files`). */
export interface ListPage<T> {
  object: 'list';
  data: T[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** A shard whose file is on the API: what the upload stage emits. */
export interface UploadedShard extends ShardDescriptor {
  fileId: string;
}

/** A shard with its batch: what the submit stage emits (`adopted`: found by its tags after a lost response, not created). */
export interface SubmittedShard extends UploadedShard {
  batchId: string;
  batch: BatchObject;
  adopted: boolean;
  /** The run id the batch is tagged with. */
  runId: string;
}
