/**
 * One shard onto the API, by the way its size calls for: `POST /v1/files` up
 * to `multipartThresholdBytes`, the Uploads API above it. The options are
 * checked here once, for the stage and the CLI alike.
 */
import { invalidOption } from '../errors.ts';
import { wholeNumberOption } from '../core/options.ts';
import type { ApiClient } from './client.ts';
import { MAX_FILE_UPLOAD_BYTES, uploadFile } from './files.ts';
import type { UploadProgress } from './shard-source.ts';
import { uploadMultipart } from './uploads.ts';
import type { FileObject, ShardDescriptor, UploadedShard } from '../types.ts';

export const DEFAULT_MULTIPART_THRESHOLD_BYTES = 32 * 1024 * 1024;
export const DEFAULT_PART_SIZE_BYTES = 16 * 1024 * 1024;
/** The Uploads API takes parts of at most 64 MB. */
export const MAX_PART_SIZE_BYTES = 64 * 1024 * 1024;
/** The API sets no floor; below this, the requests per byte make no sense. */
export const MIN_PART_SIZE_BYTES = 4 * 1024;
export const DEFAULT_PART_CONCURRENCY = 4;

export interface ShardUploadOptions {
  /** Shards larger than this go through the Uploads API in parts (default 32 MiB, at most 512 MiB). */
  multipartThresholdBytes?: number | undefined;
  /** Bytes per part (default 16 MiB; 4 KiB … 64 MiB). */
  partSizeBytes?: number | undefined;
  /** Parts of one shard in flight at once (default 4). */
  partConcurrency?: number | undefined;
  /** Bytes sent so far, per shard: for a progress bar. */
  onProgress?: ((progress: UploadProgress) => void) | undefined;
  /** Told the Uploads API upload's id as soon as it exists (multipart only). */
  onUploadCreated?: ((uploadId: string) => void) | undefined;
}

export interface NormalizedShardUploadOptions {
  multipartThresholdBytes: number;
  partSizeBytes: number;
  partConcurrency: number;
  onProgress: ((progress: UploadProgress) => void) | undefined;
  onUploadCreated?: ((uploadId: string) => void) | undefined;
}

export function normalizeShardUploadOptions(options: ShardUploadOptions = {}): NormalizedShardUploadOptions {
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw invalidOption('onProgress', 'onProgress must be a function');
  }
  return {
    multipartThresholdBytes: wholeNumberOption(options.multipartThresholdBytes, 'multipartThresholdBytes', DEFAULT_MULTIPART_THRESHOLD_BYTES, 0, MAX_FILE_UPLOAD_BYTES),
    partSizeBytes: wholeNumberOption(options.partSizeBytes, 'partSizeBytes', DEFAULT_PART_SIZE_BYTES, MIN_PART_SIZE_BYTES, MAX_PART_SIZE_BYTES),
    partConcurrency: wholeNumberOption(options.partConcurrency, 'partConcurrency', DEFAULT_PART_CONCURRENCY, 1, 64),
    onProgress: options.onProgress,
    onUploadCreated: options.onUploadCreated,
  };
}

/** Whether a shard of `bytes` goes through the Uploads API. */
export function usesMultipart(bytes: number, options: NormalizedShardUploadOptions): boolean {
  return bytes > options.multipartThresholdBytes;
}

/**
 * Uploads one shard and resolves with the same descriptor plus its `fileId`.
 * Fails with SHARD_CHANGED, SHARD_UNREADABLE, UPLOAD_INCOMPLETE, an
 * ApiError, or ABORTED.
 */
export async function uploadShard(
  client: ApiClient,
  shard: ShardDescriptor,
  options: NormalizedShardUploadOptions,
  signal?: AbortSignal,
): Promise<UploadedShard> {
  const file: FileObject = usesMultipart(shard.bytes, options)
    ? await uploadMultipart(client, shard, options, signal)
    : await uploadFile(client, shard, { onProgress: options.onProgress }, signal);
  return { ...shard, fileId: file.id };
}
