/**
 * File bodies on disk, one directory: `<id>.body` holds the bytes, `<id>.json`
 * the file object. The body is renamed into place before its metadata is
 * written, so a file whose `.json` exists always has its whole body;
 * leftovers of a crash (temp files, bodies without metadata) are swept on open.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
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
