/** File bodies as lists of the chunks they arrived in: no copy into one large buffer or string. */
import { Readable } from 'node:stream';
import type { FileObject } from '../../types.ts';
import { EmulatorClock } from '../clock.ts';
import { BaseFileStore, checkedChunks, fileObject, newId, type FileMeta, type GeneratedBody, type StagedBody } from './file-store.ts';

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

/** A generated body kept as it is: each read renders it again, checked against its declared size. */
class GeneratedMemoryBody {
  private readonly body: GeneratedBody;
  constructor(body: GeneratedBody) {
    this.body = body;
  }
  read(): Readable {
    return Readable.from(checkedChunks(this.body), { objectMode: false });
  }
}

export class MemoryFileStore extends BaseFileStore {
  private readonly bodies = new Map<string, MemoryBody | GeneratedMemoryBody>();

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

  /** Keeps the body as the way to make it: a result file costs memory for its plans, not for its bytes. */
  override async createGenerated(meta: FileMeta, body: GeneratedBody): Promise<FileObject> {
    const file = fileObject(newId('file-'), body.bytes, meta, this.clock.nowSeconds());
    this.bodies.set(file.id, new GeneratedMemoryBody(body));
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
