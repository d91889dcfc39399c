/**
 * A run's input. A file is read where it lies (twice: to shard, and by the
 * join). Anything else — stdin, a Readable, an (async) iterable of requests,
 * rows or JSONL text — is spooled to `input.jsonl` in the state dir as JSONL
 * while the ingest shards it (one read of the source), so that the join and a
 * resumed run have the same bytes to read. The
 * sha256 of those bytes is the input's identity: a resumed run with another
 * input is refused.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { AbortError, BatchlineError, IoError, throwIfAborted, ValidationError } from '../errors.ts';
import { toRequest, type RequestSpec } from '../core/request-rules.ts';
import { systemCode, systemReason } from '../io/system-error.ts';
import type { RequestSource } from '../streams/parse.ts';
import { FileReader } from '../io/file-reader.ts';
import { writeAll } from '../io/write-all.ts';
import { stateWriteFailed } from './file-store.ts';

export const SPOOL_FILE = 'input.jsonl';
const WRITE_CHUNK_BYTES = 256 * 1024;

const STOPPED: unique symbol = Symbol('stopped');

/**
 * The JSONL bytes of a source: bytes and strings as they come, objects (built into requests with `build`) one JSON
 * line each. `stop` ends the read even while the source is waiting for its next item (an idle stdin, a cursor
 * that blocks): the source is then destroyed (a Readable) or told to return, without waiting on it.
 */
async function* sourceBytes(source: RequestSource, build: RequestSpec<unknown> | undefined, stop?: Promise<void>): AsyncGenerator<Buffer> {
  const items = source as AsyncIterable<unknown> | Iterable<unknown>;
  let row = 0;
  const iterator = (Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : (items as Iterable<unknown>)[Symbol.iterator]()) as AsyncIterator<unknown> | Iterator<unknown>;
  let done = false;
  let stopped = false;
  const halted = stop?.then((): typeof STOPPED => STOPPED);
  try {
    for (;;) {
      let next: IteratorResult<unknown> | typeof STOPPED;
      try {
        next = halted ? await Promise.race([iterator.next(), halted]) : await iterator.next();
      } catch (err) {
        done = true;
        // The source's own failure (a database cursor, a broken pipe): the input could not be read.
        if (err instanceof BatchlineError) throw err;
        throw new IoError('INPUT_UNREADABLE', `the input stream failed: ${systemReason(err)}`, { syscallCode: systemCode(err), cause: err });
      }
      if (next === STOPPED) {
        stopped = true;
        break;
      }
      if (next.done) {
        done = true;
        break;
      }
      const item = next.value;
      if (!(item instanceof Uint8Array) && typeof item !== 'string') row++;
      yield* itemBytes(item, row, build);
    }
  } finally {
    // Stopped early (a bad row, an abort, a failed write, the ingest ended): the source is closed, its cursor or
    // stream released. One waiting for its next item is not waited for: its return() would queue behind that item.
    if (stopped) {
      if (source instanceof Readable) source.destroy();
      Promise.resolve(iterator.return?.()).catch(() => undefined);
    } else if (!done) {
      await iterator.return?.();
    }
  }
  if (stopped) throw new AbortError('the input stopped being read: the ingest ended');
}

/** One item of a source as JSONL bytes: bytes and strings as they come, an object (a row) as one JSON line. */
function* itemBytes(item: unknown, row: number, build: RequestSpec<unknown> | undefined): Generator<Buffer> {
  if (Buffer.isBuffer(item)) yield item;
  else if (item instanceof Uint8Array) yield Buffer.from(item.buffer, item.byteOffset, item.byteLength);
  else if (typeof item === 'string') yield Buffer.from(item, 'utf8');
  else {
    let value: unknown = item;
    if (build) {
      try {
        value = toRequest(item, build);
      } catch (err) {
        throw new ValidationError('INVALID_ROW', `build could not make a request from row ${row}: ${(err as Error).message}`, { line: row, cause: err });
      }
    }
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (err) {
      throw new ValidationError('INVALID_ROW', `row ${row} cannot be written as JSON: ${(err as Error).message}`, { line: row, cause: err });
    }
    if (text === undefined) throw new ValidationError('INVALID_ROW', `row ${row} cannot be written as JSON`, { line: row });
    yield Buffer.from(`${text}\n`, 'utf8');
  }
}

/**
 * Reads the source to its end, writing it to `path` when given, and returns
 * the sha256 and size of its bytes. The file is fsynced before this resolves.
 * With `dest` (the parser of an ingest), each chunk also goes there as it is
 * read, under its backpressure, and `dest` is ended: sharding starts with
 * the first chunk instead of after the whole source is spooled.
 */
export async function spoolSource(
  source: RequestSource,
  path: string | null,
  build: RequestSpec<unknown> | undefined,
  signal?: AbortSignal,
  dest?: Writable,
): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  let handle: FileHandle | undefined;
  // The source's own failures come coded (sourceBytes); anything else is the spool's.
  const fail = (err: unknown) => (err instanceof BatchlineError ? err : stateWriteFailed(path ?? '', err));
  // The read stops when the parser it feeds is gone (the ingest failed) or the run is aborted.
  let onStop: (() => void) | undefined;
  const stop = dest || signal ? new Promise<void>((resolve) => (onStop = resolve)) : undefined;
  const stopNow = () => onStop?.();
  dest?.once('close', stopNow);
  signal?.addEventListener('abort', stopNow, { once: true });
  try {
    if (path !== null) handle = await open(path, 'w');
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const chunk of sourceBytes(source, build, stop)) {
      throwIfAborted(signal);
      hash.update(chunk);
      bytes += chunk.length;
      if (dest) {
        // A destroyed parser stops the read (the source is closed); its error ends the ingest.
        if (dest.destroyed || (!dest.write(chunk) && !(await drained(dest)))) throw new AbortError('the input stopped being read: the ingest ended');
      }
      if (!handle) continue;
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= WRITE_CHUNK_BYTES) {
        await writeAll(handle, [Buffer.concat(pending, pendingBytes)]);
        pending = [];
        pendingBytes = 0;
      }
    }
    if (handle) {
      if (pendingBytes > 0) await writeAll(handle, [Buffer.concat(pending, pendingBytes)]);
      await handle.sync();
    }
    if (dest && !dest.destroyed) dest.end();
  } catch (err) {
    throw fail(err);
  } finally {
    dest?.removeListener('close', stopNow);
    signal?.removeEventListener('abort', stopNow);
    await handle?.close().catch(() => undefined);
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Resolves true once `dest` drains, false if it closes first. */
function drained(dest: Writable): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      dest.removeListener('drain', onDrain);
      dest.removeListener('close', onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    dest.once('drain', onDrain);
    dest.once('close', onClose);
  });
}

/** The sha256 and size of a file, read through one buffer. */
export async function hashFile(path: string, signal?: AbortSignal): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  const reader = await FileReader.open(path);
  const buffer = Buffer.allocUnsafeSlow(1024 * 1024);
  let bytes = 0;
  try {
    for (;;) {
      throwIfAborted(signal);
      const n = await reader.read(buffer, 0, buffer.length);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
      bytes += n;
    }
  } finally {
    await reader.close();
  }
  return { sha256: hash.digest('hex'), bytes };
}
