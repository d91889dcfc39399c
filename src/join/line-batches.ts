/**
 * Reading a join source as lines: a file through one reused buffer, or any
 * stream or async iterable of chunks, split by the shared LineSplitter.
 */
import { open } from 'node:fs/promises';
import { AbortError, BatchlineError, abortMessage, throwIfAborted } from '../errors.ts';
import { LineSplitter } from '../core/lines.ts';
import { raceAbort } from '../streams/abortable.ts';

/** Bytes of a source: a file path, a Readable or any async iterable of chunks. */
export type ByteSource = string | AsyncIterable<Buffer | Uint8Array | string>;

/** The lines of one source chunk, with their 1-based line numbers. */
export interface LineBatch {
  lines: Buffer[];
  numbers: number[];
}

// Small reads keep few line views alive at once: views that outlive a
// young-generation collection push V8 to grow that generation, which is most
// of the joiner's resident memory.
const READ_CHUNK_BYTES = 1 << 16;

/**
 * Reads a file through one reused buffer, yielding views that end just after
 * a line break (the last one excepted), so no line is ever split between two
 * views. A view is valid only until the generator is resumed: reusing the
 * buffer instead of allocating a chunk per read keeps dead chunks from piling
 * up between garbage collections. A line longer than the buffer grows it, up
 * to just past maxLineBytes, where the line splitter refuses the line.
 */
async function* fileChunks(path: string, maxLineBytes: number, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  const handle = await open(path, 'r');
  try {
    let buffer = Buffer.allocUnsafeSlow(READ_CHUNK_BYTES);
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
      const { bytesRead } = await handle.read(buffer, held, buffer.length - held, null);
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
    await handle.close();
  }
}

function chunksOf(
  source: ByteSource,
  maxLineBytes: number,
  signal: AbortSignal | undefined,
): AsyncIterable<Buffer | Uint8Array | string> {
  // A file read ends or fails by itself; a stream or iterable may stall, so its reads are raced against the signal.
  return typeof source === 'string' ? fileChunks(source, maxLineBytes, signal) : raceAbort(source, signal);
}

function unreadable(err: unknown, source: ByteSource, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted && !(err instanceof BatchlineError)) return new AbortError(abortMessage(signal));
  const code = (err as NodeJS.ErrnoException)?.code;
  if (typeof source === 'string' && typeof (err as NodeJS.ErrnoException)?.syscall === 'string') {
    return new BatchlineError('INPUT_UNREADABLE', `cannot read ${source}${code ? ` (${code})` : ''}`, { cause: err });
  }
  return err;
}

/**
 * Yields a source's lines one chunk at a time. Lines are views into the
 * chunk (no copy), valid until the next batch is asked for; `onChunk` sees
 * every raw chunk first (to spool it).
 */
export async function* lineBatches(
  source: ByteSource,
  maxLineBytes: number,
  signal: AbortSignal | undefined,
  onChunk?: (chunk: Buffer) => Promise<void>,
): AsyncGenerator<LineBatch> {
  let batch: LineBatch = { lines: [], numbers: [] };
  // A batch is used up before the next push, so a line that spans chunks may be assembled in a reused buffer.
  const splitter = new LineSplitter(
    maxLineBytes,
    (bytes, line) => {
      batch.lines.push(bytes);
      batch.numbers.push(line);
    },
    { reuseCarry: true },
  );
  try {
    for await (const raw of chunksOf(source, maxLineBytes, signal)) {
      throwIfAborted(signal);
      const chunk = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
      if (onChunk) await onChunk(chunk);
      splitter.push(chunk);
      if (batch.lines.length > 0) {
        yield batch;
        batch = { lines: [], numbers: [] };
      }
    }
  } catch (err) {
    throw unreadable(err, source, signal);
  }
  splitter.end();
  if (batch.lines.length > 0) yield batch;
}
