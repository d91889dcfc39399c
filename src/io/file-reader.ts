/**
 * Reading a file through a few reused buffers, for the stages that read large
 * inputs: pumpFile() writes a file into a stream stage (the parser), and
 * readLineChunks() yields it as views that end at line breaks (the joiner).
 * Both read through FileReader, the one place that turns a failed open or
 * read into an INPUT_UNREADABLE IoError with the path and the system's code.
 *
 * `createReadStream` allocates a fresh buffer for every read. Those buffers
 * live outside the JavaScript heap, and once a few have outlived a young
 * collection they wait for a full one, which V8 starts only after tens of
 * megabytes of them have gathered: reading a large file that way costs more
 * resident memory than the stages that process it. Here a buffer is read into
 * again only once its reader is done with what it held.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { IoError, throwIfAborted } from '../errors.ts';
import { systemCode, systemReason } from './system-error.ts';

export const DEFAULT_READ_CHUNK_BYTES = 64 * 1024;
const READ_BUFFERS = 4;

export interface PumpFileOptions {
  /** Bytes per read. Default 64 KiB. */
  chunkBytes?: number;
  /** Sees every chunk read, in order, before the stage does (a digest of the input as it streams). */
  onChunk?: ((chunk: Buffer) => void) | undefined;
}

/**
 * Writes the bytes of the file at `path` into `dest`, then ends it. `dest`
 * must be done with a chunk when it calls back for it (keep no view into it):
 * the buffer is read into again after that. Resolves once every chunk has
 * been called back for, or as soon as `dest` is destroyed (its own error
 * stands). Rejects with INPUT_UNREADABLE when the file cannot be read.
 */
export async function pumpFile(path: string, dest: Writable, options: PumpFileOptions = {}): Promise<void> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_READ_CHUNK_BYTES;
  const file = await FileReader.open(path);
  // A destroyed stream may never call back for a chunk it was holding; its 'close' ends the wait.
  let onClose!: () => void;
  const closed = new Promise<void>((resolve) => (onClose = resolve));
  dest.once('close', onClose);
  const buffers: Buffer[] = [];
  const pending: Array<Promise<void> | undefined> = [];
  try {
    for (let i = 0; ; i = (i + 1) % READ_BUFFERS) {
      if (pending[i]) await Promise.race([pending[i], closed]);
      if (dest.destroyed) return;
      const buffer = (buffers[i] ??= Buffer.allocUnsafeSlow(chunkBytes));
      const bytesRead = await file.read(buffer, 0, chunkBytes);
      if (bytesRead === 0) break;
      options.onChunk?.(buffer.subarray(0, bytesRead));
      pending[i] = written(dest, buffer.subarray(0, bytesRead));
      // Rejections are taken up when the slot is awaited; until then they must not count as unhandled.
      pending[i]?.catch(() => undefined);
    }
    await Promise.race([Promise.all(pending), closed]);
  } finally {
    dest.removeListener('close', onClose);
    await file.close();
  }
  if (!dest.destroyed) dest.end();
}

function written(dest: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    dest.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * Reads a file through one reused buffer, yielding views that end just after
 * a line break (the last one excepted), so that no line is split between two
 * views and the line splitter never has to carry one over. A view is valid
 * only until the generator is resumed. A line longer than the buffer grows it,
 * up to just past maxLineBytes, where the line splitter refuses the line.
 */
export async function* readLineChunks(
  path: string,
  options: { maxLineBytes: number; chunkBytes?: number; signal?: AbortSignal | undefined },
): AsyncGenerator<Buffer> {
  const { maxLineBytes, signal } = options;
  const file = await FileReader.open(path);
  try {
    let buffer = Buffer.allocUnsafeSlow(options.chunkBytes ?? DEFAULT_READ_CHUNK_BYTES);
    let held = 0;
    for (;;) {
      throwIfAborted(signal);
      if (held === buffer.length) {
        if (buffer.length > maxLineBytes + 2) {
          yield buffer.subarray(0, held);
          held = 0;
          continue;
        }
        const bigger = Buffer.allocUnsafeSlow(Math.min(buffer.length * 2, maxLineBytes + 3));
        buffer.copy(bigger, 0, 0, held);
        buffer = bigger;
      }
      const bytesRead = await file.read(buffer, held, buffer.length - held);
      if (bytesRead === 0) {
        if (held > 0) yield buffer.subarray(0, held);
        return;
      }
      const end = held + bytesRead;
      const lastBreak = buffer.lastIndexOf(0x0a, end - 1);
      if (lastBreak === -1) {
        held = end;
        continue;
      }
      yield buffer.subarray(0, lastBreak + 1);
      buffer.copy(buffer, 0, lastBreak + 1, end);
      held = end - lastBreak - 1;
    }
  } finally {
    await file.close();
  }
}

/** A file open for sequential reading; every failure is INPUT_UNREADABLE naming the path and the system's code. */
export class FileReader {
  private readonly path: string;
  private readonly handle: FileHandle;

  private constructor(path: string, handle: FileHandle) {
    this.path = path;
    this.handle = handle;
  }

  static async open(path: string): Promise<FileReader> {
    try {
      return new FileReader(path, await open(path, 'r'));
    } catch (err) {
      throw unreadable(path, err);
    }
  }

  /** Reads the next bytes into buffer[offset, offset + length); 0 at the end of the file. */
  async read(buffer: Buffer, offset: number, length: number): Promise<number> {
    try {
      return (await this.handle.read(buffer, offset, length, null)).bytesRead;
    } catch (err) {
      throw unreadable(this.path, err);
    }
  }

  async close(): Promise<void> {
    try {
      await this.handle.close();
    } catch (err) {
      throw unreadable(this.path, err);
    }
  }
}

function unreadable(path: string, err: unknown): IoError {
  return new IoError('INPUT_UNREADABLE', `cannot read ${path}: ${systemReason(err)}`, { path, syscallCode: systemCode(err), cause: err });
}
