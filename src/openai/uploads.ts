/**
 * The Uploads API for shards too large for one request: create an upload,
 * send the file as parts (file slices, each its own streamed request, several
 * in flight, each retried on its own), then `complete` with the part ids in
 * order and the descriptor's md5, which the server checks against the bytes
 * it got. An upload that cannot finish — any failure, an abort, a changed
 * shard — is cancelled (best effort) and the error carries its `uploadId`.
 *
 * Lost answers: a part whose answer was lost is sent again; the stray copy is
 * never named in `complete`, so it is dropped with the upload. A `complete`
 * whose answer was lost meets "not pending" when retried; the file it made
 * is then found by its name, size and sha256 (file-copies.ts). A lost answer
 * to the create leaves a pending upload no one knows the id of: the service
 * expires it after an hour.
 */
import { AbortError, ApiError, BatchlineError } from '../errors.ts';
import type { ApiClient, CallRequest } from './client.ts';
import { findUploadedCopy, mayHaveActed } from './file-copies.ts';
import { deleteFile, shardFilename } from './files.ts';
import { multipartBody } from './multipart-body.ts';
import { checkUnchanged, SentBytes, ShardRangeReader, shardChanged, statShard, type UploadProgress } from './shard-source.ts';
import type { FileObject, ShardDescriptor, UploadObject, UploadPartObject } from '../types.ts';

/** The MIME type a `batch` upload is declared with (the API's own example uses it). */
export const JSONL_MIME_TYPE = 'text/jsonl';
/** How long cancelling a failed upload (or deleting its wrong file) may take, retries included. */
export const CANCEL_TIMEOUT_MS = 30_000;

export interface MultipartUploadOptions {
  /** Bytes per part (the last may be shorter). */
  partSizeBytes: number;
  /** Parts in flight at once. */
  partConcurrency: number;
  onProgress?: ((progress: UploadProgress) => void) | undefined;
  /** Told the upload's id as soon as it exists, before any part is sent: a caller can record it to cancel it after a crash. */
  onUploadCreated?: ((uploadId: string) => void) | undefined;
}

/** The byte ranges of the parts, in file order. */
export function partRanges(bytes: number, partSizeBytes: number): Array<{ start: number; end: number }> {
  const ranges: Array<{ start: number; end: number }> = [];
  for (let start = 0; start < bytes; start += partSizeBytes) ranges.push({ start, end: Math.min(bytes, start + partSizeBytes) });
  return ranges;
}

/**
 * Uploads the shard through the Uploads API. Resolves with the stored file;
 * fails with SHARD_CHANGED, UPLOAD_INCOMPLETE, an ApiError or ABORTED, each
 * carrying `uploadId` once the upload exists (it is cancelled by then).
 */
export async function uploadMultipart(
  client: ApiClient,
  shard: ShardDescriptor,
  options: MultipartUploadOptions,
  signal?: AbortSignal,
): Promise<FileObject> {
  const filename = shardFilename(shard);
  const before = await statShard(shard);
  const upload = await client.call(
    { operation: `create upload for shard ${shard.index}`, shard: shard.index },
    ({ options: request }) =>
      client.sdk.post<UploadObject>('/uploads', { body: { filename, purpose: 'batch', bytes: shard.bytes, mime_type: JSONL_MIME_TYPE }, ...request }),
    signal,
  );
  const where = { shard: shard.index, uploadId: upload.id };
  options.onUploadCreated?.(upload.id);
  let completed: UploadObject | undefined;
  try {
    const sent = new SentBytes(shard, options.onProgress);
    const ranges = partRanges(shard.bytes, options.partSizeBytes);
    const parts = await runParts(ranges.length, options.partConcurrency, signal, (index, partSignal) =>
      sendPart(client, shard, upload.id, { ...ranges[index], index, total: ranges.length }, sent, partSignal),
    );
    await checkUnchanged(shard, before);
    completed = await complete(client, shard, upload, parts.map((part) => part.id), signal);
    const file = completed.file;
    if (completed.status !== 'completed' || !file || file.bytes !== shard.bytes) {
      throw new ApiError(
        'UPLOAD_INCOMPLETE',
        `Shard ${shard.index}: upload ${upload.id} ended ${completed.status} with ${file ? `file ${file.id} of ${file.bytes} bytes` : 'no file'}, the shard holds ${shard.bytes} bytes`,
        { ...where, fileId: file?.id },
      );
    }
    sent.finish();
    return file;
  } catch (err) {
    // A completed upload cannot be cancelled; a wrong file it made is deleted instead.
    if (completed?.file) await withDeadline((deadline) => deleteFile(client, completed?.file?.id, deadline).catch(() => false));
    else await withDeadline((deadline) => cancelUpload(client, upload.id, deadline));
    if (err instanceof BatchlineError) {
      err.uploadId ??= upload.id;
      err.shard ??= shard.index;
    }
    throw err;
  }
}

/**
 * Runs `count` part uploads, `concurrency` at a time, and resolves with their
 * results in part order. The first failure (or an abort) stops the others at
 * once through their signal, and is what rejects.
 */
async function runParts<T>(count: number, concurrency: number, signal: AbortSignal | undefined, send: (index: number, signal: AbortSignal) => Promise<T>): Promise<T[]> {
  const stop = new AbortController();
  const partSignal = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  const results: T[] = new Array(count);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < count && !failure) {
      const index = next++;
      try {
        results[index] = await send(index, partSignal);
      } catch (error) {
        failure ??= { error };
        stop.abort(new AbortError('Another part of the upload failed'));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (failure) throw failure.error;
  return results;
}

async function sendPart(
  client: ApiClient,
  shard: ShardDescriptor,
  uploadId: string,
  part: { start: number; end: number; index: number; total: number },
  sent: SentBytes,
  signal: AbortSignal,
): Promise<UploadPartObject> {
  return client.call(
    { operation: `upload part ${part.index + 1}/${part.total} of shard ${shard.index}`, shard: shard.index, uploadId },
    async ({ options: request }) => {
      sent.restart(part.index);
      const reader = new ShardRangeReader(shard, part.start, part.end, { onBytes: (bytes) => sent.add(part.index, bytes) });
      const form = multipartBody({}, { field: 'data', filename: 'blob', contentType: 'application/octet-stream', content: reader.chunks() });
      try {
        return await client.streamingSdk.post<UploadPartObject>(`/uploads/${encodeURIComponent(uploadId)}/parts`, {
          body: form.body,
          headers: { 'Content-Type': form.contentType },
          ...request,
        });
      } catch (err) {
        if (reader.failure) throw reader.failure;
        throw err;
      } finally {
        await reader.close();
      }
    },
    signal,
  );
}

/** `complete`, adopting the file a lost answer made when a retry finds the upload no longer pending. */
function complete(client: ApiClient, shard: ShardDescriptor, upload: UploadObject, partIds: string[], signal: AbortSignal | undefined): Promise<UploadObject> {
  let mayBeDone = false;
  return client.call(
    { operation: `complete upload of shard ${shard.index}`, shard: shard.index, uploadId: upload.id },
    async ({ options: request }: CallRequest) => {
      try {
        return await client.sdk.post<UploadObject>(`/uploads/${encodeURIComponent(upload.id)}/complete`, { body: { part_ids: partIds, md5: shard.md5 }, ...request });
      } catch (err) {
        const status = (err as { status?: unknown }).status;
        const apiCode = (err as { code?: unknown }).code;
        if (status === 400 && apiCode === 'md5_mismatch') {
          throw shardChanged(shard, 'the bytes sent do not have the descriptor\'s md5', { uploadId: upload.id, cause: err });
        }
        // After an answer that may have been lost, a refusal most likely says the upload is already completed.
        if (mayBeDone && status === 400) {
          const file = await findUploadedCopy(client, shard, { sinceSeconds: upload.created_at }, request);
          if (file) return { ...upload, status: 'completed', file };
          throw new ApiError('UPLOAD_INCOMPLETE', `Shard ${shard.index}: upload ${upload.id} is no longer pending and no file with the shard's bytes was made`, {
            shard: shard.index,
            uploadId: upload.id,
            cause: err,
          });
        }
        mayBeDone = mayHaveActed(err);
        throw err;
      }
    },
    signal,
  );
}

/** Runs clean-up work under its own deadline: the caller's signal may be the reason for it, and already aborted. */
async function withDeadline<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new AbortError('Clean-up took too long')), CANCEL_TIMEOUT_MS);
  try {
    return await work(deadline.signal);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Cancels a pending upload, best effort: resolves true when it is cancelled,
 * false when it could not be (already completed, expired, or the service is
 * out of reach; it then expires within the hour). Never throws.
 */
export async function cancelUpload(client: ApiClient, uploadId: string, signal?: AbortSignal): Promise<boolean> {
  try {
    const upload = await client.call(
      { operation: `cancel upload ${uploadId}`, uploadId },
      ({ options: request }) => client.sdk.post<UploadObject>(`/uploads/${encodeURIComponent(uploadId)}/cancel`, request),
      signal,
    );
    return upload.status === 'cancelled';
  } catch {
    return false;
  }
}
