/**
 * File bodies on disk, one directory: `<id>.body` holds the bytes, `<id>.json`
 * the file object. The body is renamed into place before its metadata is
 * written, so a file whose `.json` exists always has its whole body;
 * leftovers of a crash (temp files, bodies without metadata) are swept on open.
 * A file assembled from other files of the same file system (an upload's
 * parts) is those files, hard-linked in order as `<id>.body.0`, `<id>.body.1`
 * …, rather than a copy of their bytes.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readJsonRecord, writeJsonAtomic } from '../../io/atomic-write.ts';
import type { FileObject } from '../../types.ts';
import { EmulatorClock } from '../clock.ts';
import { BaseFileStore, fileObject, newId, type FileMeta, type StagedBody } from './file-store.ts';

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

/** `<id>.body.<k>`: segment k of a file made of linked files. */
const SEGMENT_NAME = /^(.+)\.body\.(\d+)$/;

export class DiskFileStore extends BaseFileStore {
  readonly dir: string;
  /** How many segments each file made of linked files has. */
  private readonly segments = new Map<string, number>();

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
        let segments = 0;
        while (names.has(`${id}.body.${segments}`)) segments++;
        if (!names.has(`${id}.body`) && segments === 0) {
          await rm(join(dir, name), { force: true });
          continue;
        }
        const file = await readJsonRecord<FileObject>(join(dir, name), 'EMULATOR_STATE_CORRUPT', isFileObject);
        store.files.set(file.id, file);
        if (segments > 0) store.segments.set(file.id, segments);
      } else if (name.endsWith('.body') && !names.has(`${name.slice(0, -'.body'.length)}.json`)) {
        await rm(join(dir, name), { force: true });
      } else if (SEGMENT_NAME.test(name) && !names.has(`${(SEGMENT_NAME.exec(name) as RegExpExecArray)[1]}.json`)) {
        // Links made for a file whose metadata was never written.
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

  /**
   * A file whose bytes are the given files' in order, hard-linked, not
   * copied: they must be on this store's file system, and must not change
   * afterwards (an upload's parts, whose own names are removed next). A link
   * that cannot be made (another file system, one without hard links) throws
   * with its system code, and nothing is left of the attempt.
   */
  async commitLinked(meta: FileMeta, paths: string[], bytes: number): Promise<FileObject> {
    if (paths.length === 0) throw new TypeError('a linked file needs at least one segment');
    const file = fileObject(newId('file-'), bytes, meta, this.clock.nowSeconds());
    const made: string[] = [];
    try {
      for (const [k, source] of paths.entries()) {
        const target = this.segmentPath(file.id, k);
        await link(source, target);
        made.push(target);
      }
      // Written last: the links exist whenever the metadata does; open() sweeps links without it.
      await writeJsonAtomic(join(this.dir, `${file.id}.json`), file);
    } catch (err) {
      for (const target of made) await rm(target, { force: true });
      throw err;
    }
    this.segments.set(file.id, paths.length);
    this.files.set(file.id, file);
    return { ...file };
  }

  /** Where a file's single body lives: what another store's commitLinked links to. */
  bodyPath(id: string): string {
    return join(this.dir, `${id}.body`);
  }

  async discard(body: StagedBody): Promise<void> {
    if (body instanceof DiskBody) await rm(body.path, { force: true });
  }

  protected readBody(id: string): Readable {
    const segments = this.segments.get(id);
    if (segments === undefined) return createReadStream(this.bodyPath(id));
    const paths = Array.from({ length: segments }, (_, k) => this.segmentPath(id, k));
    return Readable.from(
      (async function* () {
        for (const path of paths) yield* createReadStream(path) as AsyncIterable<Buffer>;
      })(),
      { objectMode: false },
    );
  }

  protected async removeBody(id: string): Promise<void> {
    // Metadata first: a crash between the two leaves an orphan body, which open() sweeps.
    await rm(join(this.dir, `${id}.json`), { force: true });
    await rm(this.bodyPath(id), { force: true });
    const segments = this.segments.get(id) ?? 0;
    for (let k = 0; k < segments; k++) await rm(this.segmentPath(id, k), { force: true });
    this.segments.delete(id);
  }

  private segmentPath(id: string, k: number): string {
    return join(this.dir, `${id}.body.${k}`);
  }
}

function isFileObject(value: unknown): boolean {
  const file = value as Partial<FileObject> | null;
  return typeof file?.id === 'string' && file.object === 'file' && typeof file.bytes === 'number';
}
