/**
 * Where the emulator keeps file bodies: a list of chunks in memory, or one
 * file per body under a state directory. A body is always written in two
 * steps — staged (every byte received) then committed (given an id and
 * metadata) — so a request that dies half way, or fails a check made only
 * after the last byte (a `purpose` field sent after the file, an md5), leaves
 * nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readJsonRecord, writeJsonAtomic } from '../io/atomic-write.ts';
import { EmulatorClock, EmulatorHttpError, type FileStore } from './contracts.ts';
import type { FileObject } from '../types.ts';

/** A body whose every byte has arrived but which no file refers to yet. */
export interface StagedBody {
  readonly bytes: number;
  /** The bytes again, as a stream (before commit: an upload's parts are read back this way). */
  read(): Readable;
}

export interface FileMeta {
  filename: string;
  purpose: string;
  /** Seconds since the epoch; null or absent: the file does not expire. */
  expiresAt?: number | null;
}

/** The FileStore contract plus the two-step write the server and the Uploads API use. */
export interface EmulatorFileStore extends FileStore {
  /** Writes every chunk somewhere safe; rejects (leaving nothing) when the iterable throws. */
  stage(content: AsyncIterable<Buffer>): Promise<StagedBody>;
  /** Turns a staged body into a file. The staged body must not be used again. */
  commit(body: StagedBody, meta: FileMeta): Promise<FileObject>;
  /** Frees a staged body that will not be committed. Safe to call twice. */
  discard(body: StagedBody): Promise<void>;
}

export interface FileStoreOptions {
  clock?: EmulatorClock;
  /** Keep bodies and metadata under this directory so they survive a restart. */
  stateDir?: string;
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

/** A prefix plus 24 random hex digits, like the service's opaque ids. */
export function newId(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('hex')}`;
}

/** Opens the store the options ask for: on disk with stateDir (loading what is there), else in memory. */
export async function createFileStore(options: FileStoreOptions = {}): Promise<EmulatorFileStore> {
  const clock = options.clock ?? new EmulatorClock();
  if (options.stateDir === undefined) return new MemoryFileStore(clock);
  return DiskFileStore.open(join(options.stateDir, 'files'), clock);
}

function notFound(id: string): EmulatorHttpError {
  return new EmulatorHttpError(404, `No such File object: ${id}`, { param: 'id', code: null });
}

function fileObject(id: string, bytes: number, meta: FileMeta, createdAt: number): FileObject {
  return {
    id,
    object: 'file',
    bytes,
    created_at: createdAt,
    expires_at: meta.expiresAt ?? null,
    filename: meta.filename,
    purpose: meta.purpose,
    status: 'processed',
    status_details: null,
  };
}

/** Shared bookkeeping: the file objects, newest last, with expired files hidden as the service deletes them. */
abstract class BaseFileStore implements EmulatorFileStore {
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

  get(id: string): FileObject | undefined {
    const file = this.files.get(id);
    if (!file || this.isExpired(file)) return undefined;
    return { ...file };
  }

  read(id: string): Readable {
    if (!this.get(id)) throw notFound(id);
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

class MemoryBody implements StagedBody {
  readonly chunks: Buffer[];
  readonly bytes: number;
  constructor(chunks: Buffer[], bytes: number) {
    this.chunks = chunks;
    this.bytes = bytes;
  }
  read(): Readable {
    return Readable.from(this.chunks, { objectMode: false });
  }
}

/** Bodies as lists of the chunks they arrived in: no copy into one large buffer or string. */
export class MemoryFileStore extends BaseFileStore {
  private readonly bodies = new Map<string, MemoryBody>();

  constructor(clock: EmulatorClock = new EmulatorClock()) {
    super(clock);
  }

  async stage(content: AsyncIterable<Buffer>): Promise<StagedBody> {
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of content) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      chunks.push(buf);
      bytes += buf.length;
    }
    return new MemoryBody(chunks, bytes);
  }

  async commit(body: StagedBody, meta: FileMeta): Promise<FileObject> {
    if (!(body instanceof MemoryBody)) throw new TypeError('body was not staged by this store');
    const file = fileObject(newId('file-'), body.bytes, meta, this.clock.nowSeconds());
    this.bodies.set(file.id, body);
    this.files.set(file.id, file);
    return { ...file };
  }

  async discard(body: StagedBody): Promise<void> {
    if (body instanceof MemoryBody) body.chunks.length = 0;
  }

  protected readBody(id: string): Readable {
    return this.bodies.get(id)!.read();
  }

  protected async removeBody(id: string): Promise<void> {
    this.bodies.delete(id);
  }
}

class DiskBody implements StagedBody {
  readonly path: string;
  readonly bytes: number;
  constructor(path: string, bytes: number) {
    this.path = path;
    this.bytes = bytes;
  }
  read(): Readable {
    return createReadStream(this.path);
  }
}

/**
 * One directory: `<id>.body` holds the bytes, `<id>.json` the file object.
 * The body is renamed into place before its metadata is written, so a file
 * whose `.json` exists always has its whole body; leftovers of a crash
 * (temp files, bodies without metadata) are swept on open.
 */
export class DiskFileStore extends BaseFileStore {
  readonly dir: string;

  private constructor(dir: string, clock: EmulatorClock) {
    super(clock);
    this.dir = dir;
  }

  static async open(dir: string, clock: EmulatorClock = new EmulatorClock()): Promise<DiskFileStore> {
    await mkdir(dir, { recursive: true });
    const store = new DiskFileStore(dir, clock);
    const names = new Set(await readdir(dir));
    for (const name of names) {
      if (name.endsWith('.tmp')) {
        await rm(join(dir, name), { force: true });
      } else if (name.endsWith('.json')) {
        const id = name.slice(0, -'.json'.length);
        if (!names.has(`${id}.body`)) {
          await rm(join(dir, name), { force: true });
          continue;
        }
        const file = await readJsonRecord<FileObject>(join(dir, name), 'EMULATOR_STATE_CORRUPT', isFileObject);
        store.files.set(file.id, file);
      } else if (name.endsWith('.body') && !names.has(`${name.slice(0, -'.body'.length)}.json`)) {
        await rm(join(dir, name), { force: true });
      }
    }
    // Keep creation order across restarts, as the in-memory Map would.
    const sorted = [...store.files.values()].sort((a, b) => a.created_at - b.created_at);
    store.files.clear();
    for (const file of sorted) store.files.set(file.id, file);
    return store;
  }

  async stage(content: AsyncIterable<Buffer>): Promise<StagedBody> {
    const path = join(this.dir, `staged-${randomBytes(8).toString('hex')}.tmp`);
    let bytes = 0;
    const counted = async function* () {
      for await (const chunk of content) {
        bytes += chunk.length;
        yield chunk;
      }
    };
    try {
      const out = createWriteStream(path, { flags: 'wx' });
      await pipeline(counted, out);
      const handle = await open(path, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (err) {
      await rm(path, { force: true });
      throw err;
    }
    return new DiskBody(path, bytes);
  }

  async commit(body: StagedBody, meta: FileMeta): Promise<FileObject> {
    if (!(body instanceof DiskBody)) throw new TypeError('body was not staged by this store');
    const file = fileObject(newId('file-'), body.bytes, meta, this.clock.nowSeconds());
    await rename(body.path, this.bodyPath(file.id));
    await writeJsonAtomic(join(this.dir, `${file.id}.json`), file);
    this.files.set(file.id, file);
    return { ...file };
  }

  async discard(body: StagedBody): Promise<void> {
    if (body instanceof DiskBody) await rm(body.path, { force: true });
  }

  protected readBody(id: string): Readable {
    return createReadStream(this.bodyPath(id));
  }

  protected async removeBody(id: string): Promise<void> {
    // Metadata first: a crash between the two leaves an orphan body, which open() sweeps.
    await rm(join(this.dir, `${id}.json`), { force: true });
    await rm(this.bodyPath(id), { force: true });
  }

  private bodyPath(id: string): string {
    return join(this.dir, `${id}.body`);
  }
}

function isFileObject(value: unknown): boolean {
  const file = value as Partial<FileObject> | null;
  return typeof file?.id === 'string' && file.object === 'file' && typeof file.bytes === 'number';
}
