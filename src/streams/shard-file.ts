import { createHash } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { IoError } from '../errors.ts';
import { systemCode, systemReason } from '../io/system-error.ts';
import { writeAll } from '../io/write-all.ts';

const NEWLINE = Buffer.from('\n');

/**
 * One shard file being written: lines gather in one of two reused buffers
 * while the other is on its way to disk, so parsing and writing overlap and
 * no buffer is allocated per write. sha256 and md5 are computed on the way.
 */
export class ShardFile {
  readonly index: number;
  readonly path: string;
  /** Bytes that have reached the file. */
  written = 0;
  private file: FileHandle | undefined;
  private readonly bufferBytes: number;
  private readonly buffers: Buffer[] = [];
  private active = 0;
  private pendingBytes = 0;
  private writing: Promise<void> | undefined;
  private readonly sha256 = createHash('sha256');
  private readonly md5 = createHash('md5');
  /** Whether this object made the file, so that discard() never removes someone else's. */
  private created = false;

  constructor(index: number, path: string, bufferBytes: number) {
    this.index = index;
    this.path = path;
    this.bufferBytes = bufferBytes;
  }

  /**
   * Creates the file; one that is already there (an earlier run's shard) is
   * SHARD_EXISTS, never truncated: a directory holding shards of two runs
   * could not be told apart, and the earlier run's descriptors would lie.
   */
  async open(): Promise<void> {
    try {
      this.file = await open(this.path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException)?.code === 'EEXIST') {
        throw new IoError('SHARD_EXISTS', `${this.path} already exists; shard into an empty directory or use another prefix`, {
          shard: this.index,
          path: this.path,
          syscallCode: 'EEXIST',
          cause: err,
        });
      }
      throw this.ioError(err, 'open');
    }
    this.created = true;
  }

  /** Appends one line and its `\n`: `raw` bytes as they are, or `text` encoded; `size` is its UTF-8 length. */
  async append(raw: Buffer | undefined, text: string | undefined, size: number): Promise<void> {
    if (this.pendingBytes + size + 1 > this.bufferBytes) await this.flush();
    if (size + 1 > this.bufferBytes) {
      // Larger than a whole buffer: written on its own.
      await this.writeOut(Buffer.concat([raw ?? Buffer.from(text as string), NEWLINE]));
      return;
    }
    const buffer = (this.buffers[this.active] ??= Buffer.allocUnsafe(this.bufferBytes));
    if (raw) raw.copy(buffer, this.pendingBytes);
    else buffer.write(text as string, this.pendingBytes, 'utf8');
    buffer[this.pendingBytes + size] = 0x0a;
    this.pendingBytes += size + 1;
  }

  /** Starts writing what has gathered; resolves once the buffer to fill next is free. */
  async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    await this.writeOut(this.buffers[this.active].subarray(0, this.pendingBytes));
    // writeOut waited for the other buffer's write, so it is free to fill.
    this.active ^= 1;
    this.pendingBytes = 0;
  }

  /** Waits for the last write, fsyncs and closes; returns the digests of everything written. */
  async seal(): Promise<{ sha256: string; md5: string }> {
    await this.flush();
    await this.writing;
    const file = this.file as FileHandle;
    try {
      await file.sync();
      await file.close();
    } catch (err) {
      throw this.ioError(err, 'fsync');
    }
    this.file = undefined;
    return { sha256: this.sha256.digest('hex'), md5: this.md5.digest('hex') };
  }

  /** Closes (after any write under way) and removes the file, if this object created it. */
  async discard(): Promise<void> {
    await this.writing?.catch(() => undefined);
    const file = this.file;
    this.file = undefined;
    await file?.close().catch(() => undefined);
    if (this.created) await rm(this.path, { force: true });
  }

  private async writeOut(data: Buffer): Promise<void> {
    await this.writing;
    this.sha256.update(data);
    this.md5.update(data);
    this.writing = this.writeAll(data);
    // Awaited by the next write or the seal; marked handled here so a destroy in between stays quiet.
    this.writing.catch(() => undefined);
  }

  private async writeAll(data: Buffer): Promise<void> {
    const file = this.file;
    if (!file) throw this.ioError(new Error('the file is closed'), 'write');
    try {
      await writeAll(file, [data]);
    } catch (err) {
      throw this.ioError(err, 'write');
    }
    this.written += data.length;
  }

  private ioError(err: unknown, action: string): IoError {
    return new IoError('SHARD_WRITE_FAILED', `could not ${action} ${this.path}: ${systemReason(err)}`, {
      shard: this.index,
      path: this.path,
      syscallCode: systemCode(err),
      cause: err,
    });
  }
}
