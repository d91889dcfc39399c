/**
 * Where the emulator keeps file bodies: a list of chunks in memory
 * (memory-file-store.ts), or one file per body under a state directory
 * (disk-file-store.ts). A body is always written in two steps — staged
 * (every byte received) then committed (given an id and metadata) — so a
 * request that dies half way, or fails a check made only after the last byte
 * (a `purpose` field sent after the file, an md5), leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { extname } from 'node:path';
import type { Readable } from 'node:stream';
import { AbortError, BatchlineError } from '../../errors.ts';
import type { FileObject } from '../../types.ts';
import type { EmulatorClock } from '../clock.ts';
import { EmulatorHttpError } from '../http-error.ts';

/** Where file bodies live, as the batch engine sees them. Bodies are streamed, never held as one string. */
export interface FileStore {
  /** Stores a new file from a stream of chunks and returns its object once every byte is written. */
  create(meta: FileMeta, content: AsyncIterable<Buffer>): Promise<FileObject>;
  /**
   * Stores a file whose bytes can be made again on demand: a store may keep
   * the body as it is and render it on each read (memory), or write it out
   * once (disk, so that it survives a restart). `signal` stops a write.
   */
  createGenerated(meta: FileMeta, body: GeneratedBody, signal?: AbortSignal): Promise<FileObject>;
  get(id: string): FileObject | undefined;
  /** The file's bytes as a stream; throws EmulatorHttpError 404 when there is no such file. */
  read(id: string): Readable;
  delete(id: string): Promise<boolean>;
  list(): FileObject[];
}

/**
 * A body kept as the way to make it rather than as bytes: rendered afresh on
 * every read, the same bytes every time, `bytes` of them (a result file).
 */
export interface GeneratedBody {
  readonly bytes: number;
  chunks(): Iterable<Buffer>;
}

/** A body whose every byte has arrived but which no file refers to yet. */
export interface StagedBody {
  readonly bytes: number;
  /** The bytes again, as a stream (before commit: an upload's parts are read back this way). */
  read(): Readable;
}

export interface FileMeta {
  filename: string;
  purpose: string;
  /** Seconds from the file's creation to its expiry; null or absent: the file does not expire. */
  expiresAfterSeconds?: number | null;
}

/** The FileStore plus the two-step write the server and the Uploads API use. */
export interface EmulatorFileStore extends FileStore {
  /** Writes every chunk somewhere safe; rejects (leaving nothing) when the iterable throws. */
  stage(content: AsyncIterable<Buffer>): Promise<StagedBody>;
  /** Turns a staged body into a file. The staged body must not be used again. */
  commit(body: StagedBody, meta: FileMeta): Promise<FileObject>;
  /** Frees a staged body that will not be committed. Safe to call twice. */
  discard(body: StagedBody): Promise<void>;
}

/** Files with purpose `batch` expire 30 days after creation unless `expires_after` says otherwise. */
export const BATCH_FILE_TTL_SECONDS = 30 * 24 * 3600;

/**
 * Seconds a new file lives: what its `expires_after` ({anchor: 'created_at', seconds: 3600 … 2592000})
 * asks for, else the service's default for its purpose (null: forever). A bad `expires_after` is a 400.
 */
export function fileTtlSeconds(purpose: string, expiresAfter: unknown): number | null {
  if (expiresAfter === undefined || expiresAfter === null) return purpose === 'batch' ? BATCH_FILE_TTL_SECONDS : null;
  const { anchor, seconds } = expiresAfter as { anchor?: unknown; seconds?: unknown };
  if (anchor !== 'created_at') {
    throw new EmulatorHttpError(400, "Invalid value for 'expires_after.anchor': expected 'created_at'.", { param: 'expires_after.anchor', code: 'invalid_value' });
  }
  if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds) || seconds < 3600 || seconds > 2_592_000) {
    throw new EmulatorHttpError(400, "Invalid value for 'expires_after.seconds': expected 3600 to 2592000.", { param: 'expires_after.seconds', code: 'invalid_value' });
  }
  return seconds;
}

/**
 * Whether a file of purpose `batch` or `fine-tune` may have this name: one
 * ending in `.jsonl`, or one with no extension at all — what SDKs send for
 * raw bytes (`upload` from the Python SDK, `unknown_file` from the Node SDK),
 * which the live API accepts (its content is checked when a batch is created).
 * An explicit other extension (`.csv`, `.txt`) is refused.
 */
export function isJsonlFileName(filename: string): boolean {
  const extension = extname(filename).toLowerCase();
  return extension === '' || extension === '.jsonl';
}

/** A prefix plus 24 random hex digits, like the service's opaque ids. */
export function newId(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('hex')}`;
}

/** The live API's 404 for a file: `param` is `id`, `code` null. */
export function fileNotFound(id: string): EmulatorHttpError {
  return new EmulatorHttpError(404, `No such File object: ${id}`, { param: 'id', code: null });
}

export function fileObject(id: string, bytes: number, meta: FileMeta, createdAt: number): FileObject {
  return {
    id,
    object: 'file',
    bytes,
    created_at: createdAt,
    // Counted from the file's own created_at, so the two never straddle a second boundary apart.
    expires_at: meta.expiresAfterSeconds === null || meta.expiresAfterSeconds === undefined ? null : createdAt + meta.expiresAfterSeconds,
    filename: meta.filename,
    purpose: meta.purpose,
    status: 'processed',
    status_details: null,
  };
}

/** Shared bookkeeping: the file objects, newest last, with expired files hidden as the service deletes them. */
export abstract class BaseFileStore implements EmulatorFileStore {
  protected readonly files = new Map<string, FileObject>();
  protected readonly clock: EmulatorClock;

  constructor(clock: EmulatorClock) {
    this.clock = clock;
  }

  abstract stage(content: AsyncIterable<Buffer>): Promise<StagedBody>;
  abstract commit(body: StagedBody, meta: FileMeta): Promise<FileObject>;
  abstract discard(body: StagedBody): Promise<void>;
  protected abstract readBody(id: string): Readable;
  protected abstract removeBody(id: string): Promise<void>;

  async create(meta: FileMeta, content: AsyncIterable<Buffer>): Promise<FileObject> {
    const body = await this.stage(content);
    try {
      return await this.commit(body, meta);
    } catch (err) {
      await this.discard(body);
      throw err;
    }
  }

  /** Writes the body out once; the memory store overrides this to keep it as it is. */
  createGenerated(meta: FileMeta, body: GeneratedBody, signal?: AbortSignal): Promise<FileObject> {
    return this.create(meta, toAsync(checkedChunks(body, signal)));
  }

  get(id: string): FileObject | undefined {
    const file = this.files.get(id);
    if (!file || this.isExpired(file)) return undefined;
    return { ...file };
  }

  read(id: string): Readable {
    if (!this.get(id)) throw fileNotFound(id);
    return this.readBody(id);
  }

  async delete(id: string): Promise<boolean> {
    if (!this.files.has(id)) return false;
    const expired = this.isExpired(this.files.get(id)!);
    this.files.delete(id);
    await this.removeBody(id);
    return !expired;
  }

  list(): FileObject[] {
    return [...this.files.values()].filter((file) => !this.isExpired(file)).map((file) => ({ ...file }));
  }

  private isExpired(file: FileObject): boolean {
    return file.expires_at !== null && file.expires_at <= this.clock.nowSeconds();
  }
}

/**
 * A generated body's chunks, counted: making other than `bytes` bytes would
 * send a reply that contradicts its Content-Length, so it is an error instead.
 */
export function* checkedChunks(body: GeneratedBody, signal?: AbortSignal): Generator<Buffer> {
  let made = 0;
  for (const chunk of body.chunks()) {
    if (signal?.aborted) throw new AbortError('writing a generated file was aborted');
    made += chunk.length;
    if (made > body.bytes) break;
    yield chunk;
  }
  if (made !== body.bytes) {
    throw new BatchlineError('EMULATOR_INTERNAL_ERROR', `a generated file made ${made > body.bytes ? 'more' : 'fewer'} bytes than the ${body.bytes} it declared`);
  }
}

async function* toAsync(chunks: Iterable<Buffer>): AsyncGenerator<Buffer> {
  yield* chunks;
}
