/**
 * Reading a file into a stream stage without a new buffer per chunk.
 *
 * `createReadStream` allocates a fresh buffer for every read. Those buffers
 * live outside the JavaScript heap, and once a few have outlived a young
 * collection they wait for a full one, which V8 starts only after tens of
 * megabytes of them have gathered: reading a large file that way costs more
 * resident memory than the stages that process it. Here a few buffers are
 * read into in turn and each is refilled only after the destination has
 * called back for the chunk it held.
 */
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { BatchlineError } from '../errors.ts';

export const DEFAULT_READ_CHUNK_BYTES = 64 * 1024;
const READ_BUFFERS = 4;

export interface PumpFileOptions {
  /** Bytes per read. Default 64 KiB. */
  chunkBytes?: number;
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
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw unreadable(path, err);
  }
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
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, chunkBytes, null));
      } catch (err) {
        throw unreadable(path, err);
      }
      if (bytesRead === 0) break;
      pending[i] = written(dest, buffer.subarray(0, bytesRead));
      // Rejections are taken up when the slot is awaited; until then they must not count as unhandled.
      pending[i]?.catch(() => undefined);
    }
    await Promise.race([Promise.all(pending), closed]);
  } finally {
    dest.removeListener('close', onClose);
    await handle.close();
  }
  if (!dest.destroyed) dest.end();
}

function written(dest: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    dest.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

function unreadable(path: string, err: unknown): BatchlineError {
  const code = (err as NodeJS.ErrnoException)?.code;
  return new BatchlineError('INPUT_UNREADABLE', `cannot read ${path}${code ? ` (${code})` : ''}`, { cause: err });
}
