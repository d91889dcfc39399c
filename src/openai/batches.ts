/**
 * The Batches API as plain async functions over the one client: retrieve,
 * cancel and list (cursor pages, a metadata filter done client-side), the
 * Batch object normalised on the way in (`""` file ids become null, as the
 * live API sometimes sends `error_file_id: ""`), and a failed batch turned
 * into a coded error. Submit, poll and download build on these.
 */
import { ApiError, BatchFailedError } from '../errors.ts';
import { TERMINAL_BATCH_STATUSES, type BatchObject } from '../types.ts';
import { checkMetadataFilter, metadataMatches } from '../core/batch-tags.ts';
import { wholeNumberOption } from '../core/options.ts';
import { resolveClient, type ApiClient, type ClientOptions } from './client.ts';

/** The largest page `GET /v1/batches` serves. */
export const MAX_LIST_PAGE = 100;

/** A file id, or null for an absent one (null, undefined or ""). */
export function fileIdOrNull(id: string | null | undefined): string | null {
  return typeof id === 'string' && id.length > 0 ? id : null;
}

/** The batch as the API sent it, with absent file ids as null. */
export function normalizeBatch(batch: unknown): BatchObject {
  const view = batch as BatchObject;
  return { ...view, output_file_id: fileIdOrNull(view.output_file_id), error_file_id: fileIdOrNull(view.error_file_id) };
}

export function isTerminal(batch: Pick<BatchObject, 'status'>): boolean {
  return TERMINAL_BATCH_STATUSES.has(batch.status);
}

export interface BatchCallOptions {
  signal?: AbortSignal | undefined;
  /** The shard the batch belongs to: named in errors. */
  shard?: number | undefined;
}

/** One `GET /v1/batches/{id}`. */
export async function retrieveBatch(client: ApiClient | ClientOptions, batchId: string, options: BatchCallOptions = {}): Promise<BatchObject> {
  const api = resolveClient(client);
  const batch = await api.call(
    { operation: 'retrieve batch', batchId, shard: options.shard },
    ({ options: request }) => api.sdk.batches.retrieve(batchId, request),
    options.signal,
  );
  return normalizeBatch(batch);
}

/**
 * Asks for a batch to be cancelled; resolves with the batch, now `cancelling`
 * (or already `cancelled`). Cancelling a batch that is already cancelling or
 * cancelled is not an error, so a retried cancel whose first answer was lost
 * ends well. A batch that already ended otherwise (completed, failed,
 * expired) is BATCH_NOT_CANCELLABLE, not retried.
 */
export async function cancelBatch(client: ApiClient | ClientOptions, batchId: string, options: BatchCallOptions = {}): Promise<BatchObject> {
  const api = resolveClient(client);
  const target = { operation: 'cancel batch', batchId, shard: options.shard };
  const batch = await api.call(
    target,
    async ({ options: request }) => {
      try {
        return normalizeBatch(await api.sdk.batches.cancel(batchId, request));
      } catch (err) {
        if ((err as { status?: unknown }).status !== 409) throw err;
        // 409: the batch is past the point of cancelling. Which way did it end?
        const current = normalizeBatch(await api.sdk.batches.retrieve(batchId, request));
        if (current.status === 'cancelling' || current.status === 'cancelled') return current;
        throw new ApiError('BATCH_NOT_CANCELLABLE', `cancel batch: batch ${batchId} has already ended ${current.status}`, {
          batchId,
          shard: options.shard,
          status: 409,
          retryable: false,
        });
      }
    },
    options.signal,
  );
  return batch;
}

export interface ListBatchesOptions {
  /** Yield at most this many batches (after the metadata filter); default all. */
  limit?: number | undefined;
  /** Start after this batch id (the API's cursor). */
  after?: string | undefined;
  /** Only batches whose metadata holds every one of these pairs (filtered here: the API has no such filter). */
  metadata?: Record<string, string> | undefined;
  /** Stop at the first batch created before this time (ms since the epoch); the list is newest first. */
  createdAfterMs?: number | undefined;
  /** Batches per request, 1-100 (default 100). */
  pageSize?: number | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * The account's batches, newest first, one page per request (each retried on
 * its own) as the caller reads: stopping early stops the requests.
 */
export function listBatches(client: ApiClient | ClientOptions, options: ListBatchesOptions = {}): AsyncGenerator<BatchObject> {
  const limit = wholeNumberOption(options.limit, 'limit', Number.MAX_SAFE_INTEGER, 1);
  const pageSize = wholeNumberOption(options.pageSize, 'pageSize', Math.min(MAX_LIST_PAGE, limit), 1, MAX_LIST_PAGE);
  const filter = checkMetadataFilter(options.metadata);
  if (options.createdAfterMs !== undefined) wholeNumberOption(options.createdAfterMs, 'createdAfterMs', 0, 0);
  return listPages(resolveClient(client), { ...options, limit, pageSize, metadata: filter });
}

async function* listPages(api: ApiClient, options: ListBatchesOptions & { limit: number; pageSize: number; metadata: Record<string, string> }): AsyncGenerator<BatchObject> {
  const { limit, pageSize, metadata: filter, createdAfterMs } = options;
  let after = options.after;
  let yielded = 0;
  for (;;) {
    const cursor = after;
    const page = await api.call(
      { operation: 'list batches' },
      ({ options: request }) => api.sdk.batches.list(cursor === undefined ? { limit: pageSize } : { limit: pageSize, after: cursor }, request),
      options.signal,
    );
    for (const raw of page.data) {
      const batch = normalizeBatch(raw);
      if (createdAfterMs !== undefined && batch.created_at * 1000 < createdAfterMs) return;
      if (!metadataMatches(batch.metadata, filter)) continue;
      yield batch;
      if (++yielded >= limit) return;
    }
    if (!page.has_more || page.data.length === 0) return;
    after = page.data[page.data.length - 1].id;
  }
}

/**
 * The coded error for a batch that ended `failed`: TOKEN_LIMIT_EXCEEDED when
 * the enqueued-token limit refused it, else BATCH_FAILED; it carries the
 * batch's `errors.data` as `items`, the batch id, the shard and the batch.
 */
export function batchFailure(batch: BatchObject, shard?: number): BatchFailedError {
  const items = batch.errors?.data ?? [];
  const tokenLimit = items.find((item) => item.code === 'token_limit_exceeded');
  const first = tokenLimit ?? items[0];
  const where = shard === undefined ? `batch ${batch.id}` : `batch ${batch.id} (shard ${shard})`;
  const detail = first ? `${first.code}: ${first.message}${first.line ? ` (line ${first.line} of its input file)` : ''}` : 'no reason given';
  const more = items.length > 1 ? ` (+${items.length - 1} more)` : '';
  return new BatchFailedError(tokenLimit ? 'TOKEN_LIMIT_EXCEEDED' : 'BATCH_FAILED', `${where} ended ${batch.status}: ${detail}${more}`, {
    batchId: batch.id,
    shard,
    fileId: batch.input_file_id,
    status: batch.status,
    apiCode: first?.code,
    items,
    batch,
  });
}
