/**
 * Creating batches, idempotently. Every batch is tagged in its metadata with
 * the run id and the shard (index and sha256 prefix) or the input file id.
 * Before a create is retried — the first attempt may have made the batch and
 * lost only the answer — the account's recent batches are listed, newest
 * first, back to a little before the run started, and a batch carrying the
 * same tags is adopted instead of creating a second one.
 *
 * Limit: a first attempt that the client timed out but the server finishes
 * after the retry's lookup can still make a second batch; the run's tags show
 * it in `listBatches({ metadata: { batchline_run: runId } })`.
 */
import { randomBytes } from 'node:crypto';
import type OpenAI from 'openai';
import { BatchlineError, invalidOption } from '../errors.ts';
import { SUPPORTED_ENDPOINTS, type BatchEndpoint, type BatchObject, type SubmittedShard, type UploadedShard } from '../types.ts';
import { buildBatchMetadata, checkRunId, checkUserMetadata, metadataMatches, tagMetadata, type BatchTags } from '../core/batch-tags.ts';
import { wholeNumberOption } from '../core/options.ts';
import { MAX_LIST_PAGE, normalizeBatch } from './batches.ts';
import { resolveClient, type ApiClient, type CallRequest, type CallTarget, type ClientOptions } from './client.ts';

export interface OutputExpiresAfter {
  anchor: 'created_at';
  /** 3,600 (1 h) to 2,592,000 (30 days). */
  seconds: number;
}

export interface SubmitOptions {
  /** Names this run in every batch's metadata; generated when absent (see `runId` on the result). */
  runId?: string | undefined;
  /** When the run began (ms since the epoch, or a Date); the adoption lookup goes back this far. Default: now. */
  runStartedAt?: number | Date | undefined;
  /** Leeway for the server's clock against ours in the adoption lookup (default 10 minutes). */
  clockSkewMs?: number | undefined;
  /** Also look for an adoptable batch before the first create: for a resumed run reusing its run id (default false). */
  adoptExisting?: boolean | undefined;
  /** Your own metadata pairs; batchline's tags take 3 (2 for a bare file) of the 16 the API allows. */
  metadata?: Record<string, string> | undefined;
  /** Only '24h' exists today. */
  completionWindow?: '24h' | undefined;
  /** When the output and error files expire: seconds, or the API's `{anchor: 'created_at', seconds}`. */
  outputExpiresAfter?: number | OutputExpiresAfter | undefined;
}

export interface NormalizedSubmitOptions {
  runId: string;
  runStartedAtMs: number;
  clockSkewMs: number;
  adoptExisting: boolean;
  metadata: Record<string, string>;
  completionWindow: '24h';
  outputExpiresAfter: OutputExpiresAfter | null;
}

/** Tags a shard's batch carries: run, shard index, sha256 prefix. */
const SHARD_TAG_COUNT = 3;
/** Tags a bare file's batch carries: run, file id. */
const FILE_TAG_COUNT = 2;

export const DEFAULT_CLOCK_SKEW_MS = 10 * 60_000;

/** A fresh run id: the time in base 36 (so ids sort by start) and 48 random bits. */
export function newRunId(): string {
  return `run_${Date.now().toString(36)}_${randomBytes(6).toString('hex')}`;
}

export function normalizeSubmitOptions(options: SubmitOptions = {}, tagCount = SHARD_TAG_COUNT): NormalizedSubmitOptions {
  const runId = options.runId === undefined ? newRunId() : checkRunId(options.runId);
  const started = options.runStartedAt instanceof Date ? options.runStartedAt.getTime() : options.runStartedAt;
  const runStartedAtMs = wholeNumberOption(started, 'runStartedAt', Date.now(), 0);
  const clockSkewMs = wholeNumberOption(options.clockSkewMs, 'clockSkewMs', DEFAULT_CLOCK_SKEW_MS, 0);
  if (options.adoptExisting !== undefined && typeof options.adoptExisting !== 'boolean') {
    throw invalidOption('adoptExisting', 'adoptExisting must be true or false');
  }
  if (options.completionWindow !== undefined && options.completionWindow !== '24h') {
    throw invalidOption('completionWindow', `completionWindow must be '24h', got ${JSON.stringify(options.completionWindow)}`);
  }
  return {
    runId,
    runStartedAtMs,
    clockSkewMs,
    adoptExisting: options.adoptExisting ?? false,
    metadata: checkUserMetadata(options.metadata, tagCount),
    completionWindow: '24h',
    outputExpiresAfter: checkOutputExpiresAfter(options.outputExpiresAfter),
  };
}

function checkOutputExpiresAfter(value: SubmitOptions['outputExpiresAfter']): OutputExpiresAfter | null {
  if (value === undefined) return null;
  const seconds = typeof value === 'number' ? value : value?.seconds;
  if (typeof value === 'object' && value?.anchor !== 'created_at') {
    throw invalidOption('outputExpiresAfter.anchor', `outputExpiresAfter.anchor must be 'created_at', got ${JSON.stringify(value?.anchor)}`);
  }
  if (seconds === undefined) throw invalidOption('outputExpiresAfter.seconds', 'outputExpiresAfter needs its seconds (3600 to 2592000)');
  return { anchor: 'created_at', seconds: wholeNumberOption(seconds, 'outputExpiresAfter.seconds', 0, 3600, 2_592_000) };
}

export interface SubmittedBatch {
  batch: BatchObject;
  batchId: string;
  /** True when a lost answer's batch was found by its tags instead of being created again. */
  adopted: boolean;
  runId: string;
}

/** Creates (or adopts) the batch for one uploaded shard. */
export async function submitShard(
  client: ApiClient,
  shard: UploadedShard,
  options: NormalizedSubmitOptions,
  signal?: AbortSignal,
): Promise<SubmittedShard> {
  checkShard(shard);
  const tags: BatchTags = { runId: options.runId, shard: shard.index, sha256: shard.sha256 };
  const target: CallTarget = { operation: 'create batch', shard: shard.index, fileId: shard.fileId };
  const { batch, adopted } = await createTagged(client, shard.fileId, shard.endpoint, tags, options, target, signal);
  return { ...shard, batchId: batch.id, batch, adopted, runId: options.runId };
}

/**
 * The batch an earlier create for this shard made, found by its tags, or null.
 * For a create whose answer was lost when no new batch should be made (the run was cancelled).
 */
export async function findShardBatch(
  client: ApiClient,
  shard: Pick<UploadedShard, 'index' | 'sha256'>,
  options: NormalizedSubmitOptions,
  signal?: AbortSignal,
): Promise<BatchObject | null> {
  const wanted = tagMetadata({ runId: options.runId, shard: shard.index, sha256: shard.sha256 });
  const sinceMs = options.runStartedAtMs - options.clockSkewMs;
  return client.call({ operation: 'find batch', shard: shard.index }, (request) => findTagged(client, wanted, sinceMs, request), signal);
}

export interface SubmitBatchOptions extends SubmitOptions {
  /** The endpoint every request of the file calls. */
  endpoint: BatchEndpoint;
  client?: ApiClient | ClientOptions | undefined;
  signal?: AbortSignal | undefined;
}

/** Creates (or adopts) a batch for an input file already on the API (`batchline submit <file-id>`). */
export async function submitBatch(client: ApiClient | ClientOptions, fileId: string, options: SubmitBatchOptions): Promise<SubmittedBatch> {
  const api = resolveClient(client);
  if (typeof fileId !== 'string' || fileId.length === 0) throw invalidOption('fileId', 'fileId must name an uploaded file');
  const endpoint = checkEndpoint(options?.endpoint);
  const normalized = normalizeSubmitOptions(options, FILE_TAG_COUNT);
  const tags: BatchTags = { runId: normalized.runId, fileId };
  const { batch, adopted } = await createTagged(api, fileId, endpoint, tags, normalized, { operation: 'create batch', fileId }, options.signal);
  return { batch, batchId: batch.id, adopted, runId: normalized.runId };
}

function checkEndpoint(endpoint: unknown): BatchEndpoint {
  if (!(SUPPORTED_ENDPOINTS as readonly unknown[]).includes(endpoint)) {
    throw invalidOption('endpoint', `endpoint must be one of ${SUPPORTED_ENDPOINTS.join(', ')}, got ${JSON.stringify(endpoint)}`);
  }
  return endpoint as BatchEndpoint;
}

function checkShard(shard: UploadedShard): void {
  if (
    shard === null ||
    typeof shard !== 'object' ||
    typeof shard.fileId !== 'string' ||
    shard.fileId.length === 0 ||
    !Number.isSafeInteger(shard.index) ||
    typeof shard.sha256 !== 'string' ||
    !(SUPPORTED_ENDPOINTS as readonly unknown[]).includes(shard.endpoint)
  ) {
    throw new BatchlineError('INVALID_SHARD', 'submit takes uploaded shards: {index, endpoint, sha256, fileId, …} as the upload stage emits them', {
      shard: typeof shard?.index === 'number' ? shard.index : undefined,
    });
  }
}

async function createTagged(
  api: ApiClient,
  fileId: string,
  endpoint: BatchEndpoint,
  tags: BatchTags,
  options: NormalizedSubmitOptions,
  target: CallTarget,
  signal: AbortSignal | undefined,
): Promise<{ batch: BatchObject; adopted: boolean }> {
  const params: OpenAI.BatchCreateParams = {
    input_file_id: fileId,
    endpoint: endpoint as OpenAI.BatchCreateParams['endpoint'],
    completion_window: options.completionWindow,
    metadata: buildBatchMetadata(options.metadata, tags),
    ...(options.outputExpiresAfter ? { output_expires_after: options.outputExpiresAfter } : {}),
  };
  const sinceMs = options.runStartedAtMs - options.clockSkewMs;
  return api.call(
    target,
    async (request) => {
      if (request.attempt > 1 || options.adoptExisting) {
        const found = await findTagged(api, tagMetadata(tags), sinceMs, request);
        if (found) return { batch: found, adopted: true };
      }
      return { batch: normalizeBatch(await api.sdk.batches.create(params, request.options)), adopted: false };
    },
    signal,
  );
}

/**
 * The newest batch created since `sinceMs` whose metadata holds `wanted`.
 * Plain SDK requests inside the create's attempt: a failed lookup fails that
 * attempt, and the retry layer tries the whole step again.
 */
async function findTagged(api: ApiClient, wanted: Record<string, string>, sinceMs: number, request: CallRequest): Promise<BatchObject | null> {
  let after: string | undefined;
  for (;;) {
    const page = await api.sdk.batches.list(after === undefined ? { limit: MAX_LIST_PAGE } : { limit: MAX_LIST_PAGE, after }, request.options);
    for (const raw of page.data) {
      const batch = normalizeBatch(raw);
      if (batch.created_at * 1000 < sinceMs) return null;
      if (metadataMatches(batch.metadata, wanted)) return batch;
    }
    if (!page.has_more || page.data.length === 0) return null;
    after = page.data[page.data.length - 1].id;
  }
}
