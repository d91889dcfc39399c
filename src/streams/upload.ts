/**
 * The upload stage: ShardDescriptor in → the same descriptor with `fileId`
 * out, `concurrency` shards in flight, in input order. Each shard goes up by
 * `uploadShard()` (src/openai/upload-shard.ts): one streamed request below
 * the multipart threshold, Uploads API parts above it.
 *
 * Memory: no file is held whole. Each request in flight holds a few read
 * chunks (64 KiB each) between the file and the socket, so the stage holds
 * about concurrency × partConcurrency × 256 KiB, and never more than
 * concurrency × partConcurrency × partSizeBytes.
 */
import type { Duplex } from 'node:stream';
import { BatchlineError } from '../errors.ts';
import { resolveClient, type ApiClient, type ClientOptions } from '../openai/client.ts';
import { normalizeShardUploadOptions, uploadShard, type ShardUploadOptions } from '../openai/upload-shard.ts';
import type { ShardDescriptor, UploadedShard } from '../types.ts';
import { checkConcurrency, createConcurrentMap, mapConcurrently, type ConcurrentMapper } from './concurrent-map.ts';

export const DEFAULT_UPLOAD_CONCURRENCY = 4;

export interface UploaderOptions extends ShardUploadOptions {
  /** The API client, or options to build one (default: from OPENAI_API_KEY / OPENAI_BASE_URL). */
  client?: ApiClient | ClientOptions | undefined;
  /** Shards in flight at once (default 4). */
  concurrency?: number | undefined;
  signal?: AbortSignal | undefined;
}

function isShardDescriptor(value: unknown): value is ShardDescriptor {
  const shard = value as Partial<ShardDescriptor> | null;
  return (
    typeof shard === 'object' &&
    shard !== null &&
    Number.isSafeInteger(shard.index) &&
    typeof shard.path === 'string' &&
    Number.isSafeInteger(shard.bytes) &&
    /^[0-9a-f]{64}$/.test(shard.sha256 ?? '') &&
    /^[0-9a-f]{32}$/.test(shard.md5 ?? '')
  );
}

function uploadMapper(options: UploaderOptions): { mapper: ConcurrentMapper<ShardDescriptor, UploadedShard>; concurrency: number } {
  const concurrency = checkConcurrency(options.concurrency, DEFAULT_UPLOAD_CONCURRENCY);
  const shardOptions = normalizeShardUploadOptions(options);
  const client = resolveClient(options.client);
  const mapper = async (shard: ShardDescriptor, signal: AbortSignal) => {
    if (!isShardDescriptor(shard)) {
      throw new BatchlineError('INVALID_SHARD', 'the upload stage takes shard descriptors ({index, path, bytes, sha256, md5, …}, as the sharder emits)');
    }
    return uploadShard(client, shard, shardOptions, signal);
  };
  return { mapper, concurrency };
}

/** An object-mode Duplex: shard descriptors in, uploaded shards out, in order. */
export function createUploader(options: UploaderOptions = {}): Duplex {
  const { mapper, concurrency } = uploadMapper(options);
  return createConcurrentMap(mapper, { concurrency, signal: options.signal });
}

/** The same as an async iterable, for callers that loop instead of piping. */
export function uploadShards(shards: AsyncIterable<ShardDescriptor> | Iterable<ShardDescriptor>, options: UploaderOptions = {}): AsyncGenerator<UploadedShard> {
  const { mapper, concurrency } = uploadMapper(options);
  return mapConcurrently(shards, mapper, concurrency, options.signal);
}
