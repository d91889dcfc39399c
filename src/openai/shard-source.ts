/**
 * A shard file's bytes as an upload sends them: a byte range read in chunks
 * from a freshly opened handle (a streamed body cannot be replayed, so every
 * attempt reads again), counted, and for a whole file hashed, so that bytes
 * which are not the descriptor's never complete a request. A shard whose file
 * changed on disk since it was written is SHARD_CHANGED.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { BatchlineError, IoError } from '../errors.ts';
import { systemCode, systemReason } from '../io/system-error.ts';
import type { ShardDescriptor } from '../types.ts';

/**
 * Bytes per read. 64 KiB (a socket's own read size) went as fast as 256 KiB
 * and, with the young generation kept small, held 110 MB instead of 140 MB at
 * 16 requests in flight (benchmarks/RESULTS.md, transport).
 */
export const UPLOAD_READ_CHUNK_BYTES = 64 * 1024;

export interface ShardFileState {
  size: number;
  mtimeMs: number;
}

export function shardChanged(shard: ShardDescriptor, reason: string, extra: { uploadId?: string; cause?: unknown } = {}): IoError {
  const error = new IoError('SHARD_CHANGED', `Shard ${shard.index} (${shard.path}) changed on disk since it was written: ${reason}`, {
    shard: shard.index,
    path: shard.path,
    ...(extra.cause === undefined ? {} : { cause: extra.cause }),
  });
  if (extra.uploadId !== undefined) error.uploadId = extra.uploadId;
  return error;
}

/** SHARD_CHANGED when the file is gone, SHARD_UNREADABLE for any other failure to open or read it. */
function fileError(shard: ShardDescriptor, err: unknown): BatchlineError {
  const code = systemCode(err);
  if (code === 'ENOENT') return shardChanged(shard, 'the file is gone', { cause: err });
  return new IoError('SHARD_UNREADABLE', `Shard ${shard.index}: cannot read ${shard.path}: ${systemReason(err)}`, {
    shard: shard.index,
    path: shard.path,
    syscallCode: code,
    cause: err,
  });
}

function checkSize(shard: ShardDescriptor, size: number): void {
  if (size !== shard.bytes) throw shardChanged(shard, `it holds ${size} bytes, the descriptor says ${shard.bytes}`);
}

/** The file's size and mtime now; SHARD_CHANGED when its size is not the descriptor's. */
export async function statShard(shard: ShardDescriptor): Promise<ShardFileState> {
  let info;
  try {
    info = await stat(shard.path);
  } catch (err) {
    throw fileError(shard, err);
  }
  checkSize(shard, info.size);
  return { size: info.size, mtimeMs: info.mtimeMs };
}

/** SHARD_CHANGED when the file was written to since `before` was taken. */
export async function checkUnchanged(shard: ShardDescriptor, before: ShardFileState): Promise<void> {
  const now = await statShard(shard);
  if (now.mtimeMs !== before.mtimeMs) throw shardChanged(shard, 'it was modified while it was being uploaded');
}

export interface RangeReaderOptions {
  /** Compare the bytes read with the descriptor's sha256 (only for a whole-file range). */
  verifyDigest?: boolean;
  /** Told the size of every chunk as it goes out. */
  onBytes?: (bytes: number) => void;
  chunkBytes?: number;
}

/**
 * Reads [start, end) of the shard file once. `chunks()` throws SHARD_CHANGED
 * (and keeps it in `failure`, for the caller to report in place of the
 * transport's own error) when the file's size, the range's length or the
 * digest is not what the descriptor says; the throw comes before the last
 * byte's request can complete. `close()` releases the file whatever state
 * the reading was left in.
 */
export class ShardRangeReader {
  failure: BatchlineError | undefined;
  readonly #shard: ShardDescriptor;
  readonly #start: number;
  readonly #end: number;
  readonly #options: RangeReaderOptions;
  #handle: FileHandle | undefined;
  #closed = false;

  constructor(shard: ShardDescriptor, start: number, end: number, options: RangeReaderOptions = {}) {
    this.#shard = shard;
    this.#start = start;
    this.#end = end;
    this.#options = options;
  }

  async *chunks(): AsyncGenerator<Buffer> {
    try {
      yield* this.#read();
    } catch (err) {
      if (this.#closed) return; // the request is over; nobody reads on
      this.failure = err instanceof BatchlineError ? err : fileError(this.#shard, err);
      throw this.failure;
    } finally {
      await this.close();
    }
  }

  async *#read(): AsyncGenerator<Buffer> {
    const shard = this.#shard;
    let handle: FileHandle;
    try {
      handle = this.#handle = await open(shard.path, 'r');
      checkSize(shard, (await handle.stat()).size);
    } catch (err) {
      throw err instanceof BatchlineError ? err : fileError(shard, err);
    }
    const chunkBytes = this.#options.chunkBytes ?? UPLOAD_READ_CHUNK_BYTES;
    const hash: Hash | undefined = this.#options.verifyDigest ? createHash('sha256') : undefined;
    let position = this.#start;
    while (position < this.#end && !this.#closed) {
      // A fresh buffer per chunk: the request may still hold the last one when the next is read.
      const buffer = Buffer.allocUnsafe(Math.min(chunkBytes, this.#end - position));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) throw shardChanged(shard, `it ends at byte ${position}, the descriptor says ${shard.bytes}`);
      const chunk = bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
      position += bytesRead;
      hash?.update(chunk);
      if (position === this.#end && hash) {
        const digest = hash.digest('hex');
        if (digest !== shard.sha256) throw shardChanged(shard, `its sha256 is ${digest}, the descriptor says ${shard.sha256}`);
      }
      this.#options.onBytes?.(bytesRead);
      yield chunk;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const handle = this.#handle;
    this.#handle = undefined;
    // Waits for a read under way, then closes.
    await handle?.close().catch(() => undefined);
  }
}

/** What a progress bar gets: the bytes of one shard sent so far. */
export interface UploadProgress {
  shard: number;
  path: string;
  /** Sent in the attempts under way and the parts already stored; goes back when an attempt starts over. */
  bytesSent: number;
  bytesTotal: number;
}

/** Counts a shard's bytes sent, per part (slot), and reports the sum. */
export class SentBytes {
  readonly #slots = new Map<number, number>();
  readonly #shard: ShardDescriptor;
  readonly #onProgress: ((progress: UploadProgress) => void) | undefined;
  #total = 0;

  constructor(shard: ShardDescriptor, onProgress: ((progress: UploadProgress) => void) | undefined) {
    this.#shard = shard;
    this.#onProgress = onProgress;
  }

  /** A new attempt at `slot`: what its failed attempt sent no longer counts. */
  restart(slot: number): void {
    const before = this.#slots.get(slot) ?? 0;
    this.#slots.set(slot, 0);
    if (before > 0) this.#set(this.#total - before);
  }

  add(slot: number, bytes: number): void {
    this.#slots.set(slot, (this.#slots.get(slot) ?? 0) + bytes);
    this.#set(this.#total + bytes);
  }

  /** The whole shard is on the server (also when an earlier attempt's file was adopted). */
  finish(): void {
    if (this.#total !== this.#shard.bytes) this.#set(this.#shard.bytes);
  }

  #set(total: number): void {
    this.#total = total;
    this.#onProgress?.({ shard: this.#shard.index, path: this.#shard.path, bytesSent: total, bytesTotal: this.#shard.bytes });
  }
}
