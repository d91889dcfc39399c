/**
 * Reading a join source as lines: a file through one reused buffer (see
 * io/file-reader.ts), or any stream or async iterable of chunks, split by the
 * shared LineSplitter.
 */
import { AbortError, BatchlineError, abortMessage, throwIfAborted } from '../errors.ts';
import { LineSplitter } from '../core/line-splitter.ts';
import { readLineChunks } from '../io/file-reader.ts';
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

function chunksOf(
  source: ByteSource,
  maxLineBytes: number,
  signal: AbortSignal | undefined,
): AsyncIterable<Buffer | Uint8Array | string> {
  // A file read ends or fails by itself; a stream or iterable may stall, so its reads are raced against the signal.
  return typeof source === 'string'
    ? readLineChunks(source, { maxLineBytes, chunkBytes: READ_CHUNK_BYTES, signal })
    : raceAbort(source, signal);
}

/** A source's failure after its signal fired is the abort, whatever the source threw. */
function abortedOr(err: unknown, signal: AbortSignal | undefined): unknown {
  return signal?.aborted && !(err instanceof BatchlineError) ? new AbortError(abortMessage(signal)) : err;
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
  const splitter = new LineSplitter(maxLineBytes, (bytes, line) => {
    batch.lines.push(bytes);
    batch.numbers.push(line);
  });
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
    throw abortedOr(err, signal);
  }
  splitter.end();
  if (batch.lines.length > 0) yield batch;
}
