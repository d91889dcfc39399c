import type { FileHandle } from 'node:fs/promises';

/** Writes every byte of `buffers` in order, going on after a short write (a full disk, a signal). */
export async function writeAll(handle: FileHandle, buffers: readonly Buffer[]): Promise<void> {
  let pending = buffers;
  while (pending.length > 0) {
    const total = pending.reduce((sum, buffer) => sum + buffer.length, 0);
    const { bytesWritten } = pending.length === 1 ? await handle.write(pending[0]) : await handle.writev(pending as Buffer[]);
    if (bytesWritten >= total) return;
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const buffer of pending) {
      if (skip >= buffer.length) skip -= buffer.length;
      else {
        rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
        skip = 0;
      }
    }
    pending = rest;
  }
}
