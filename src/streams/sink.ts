/**
 * Where joined results go: a JSONL file or stream, or a user callback (a
 * database insert, a queue publish). Both are object-mode Writables that
 * finish only when the last result has been written or handled.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { BatchlineError, invalidOption } from '../errors.ts';
import { asIoFailure } from '../io/system-error.ts';
import type { JoinedResult } from '../types.ts';
import { destroyOnAbort } from './abortable.ts';

const NEWLINE = Buffer.from('\n');

export interface JsonlSinkOptions {
  /** End a given Writable when the sink finishes (default false; a path is always closed). */
  end?: boolean;
  signal?: AbortSignal;
}

/**
 * Writes each object as one JSON line to a path or a Writable such as
 * process.stdout (a Buffer is written as the JSON line it already is). Lines queued together go out as one write; the
 * destination's backpressure holds the sink. A path is written under a
 * temporary name beside it and renamed into place only once complete, so a
 * reader never sees half a file and an error or abort leaves none behind.
 */
export function createJsonlSink(target: string | NodeJS.WritableStream, options: JsonlSinkOptions = {}): Writable {
  if (typeof target !== 'string' && (target === null || typeof target !== 'object' || typeof target.write !== 'function')) {
    throw invalidOption('target', 'createJsonlSink takes a path or a Writable');
  }
  const ownsTarget = typeof target === 'string';
  const partial = ownsTarget ? `${target}.partial-${randomBytes(4).toString('hex')}` : undefined;
  // flush: the bytes reach the disk before the rename makes them the file, so a crash never leaves half of one.
  const dest: Writable = partial !== undefined ? createWriteStream(partial, { flush: true }) : (target as Writable);
  let failure: Error | undefined;
  let completed = false;
  let finishing: Promise<void> | undefined;
  // A file the sink owns fails as an IO_FAILED IoError naming it; a caller's Writable fails with its own error.
  const onError = (err: Error) => {
    failure = ownsTarget ? (asIoFailure(err) as Error) : err;
    sink.destroy(failure);
  };
  dest.on('error', onError);
  // A caller's stream closed or destroyed under the sink (without an error) would leave a write waiting for 'drain' forever.
  let ending = false;
  const closedEarly = () => new BatchlineError('SINK_CLOSED', 'the output stream was closed before every result was written to it');
  const onClose = () => {
    if (ending || failure) return;
    failure = closedEarly();
    sink.destroy(failure);
  };
  dest.on('close', onClose);

  function writeOut(data: string | Buffer, callback: (error?: Error | null) => void): void {
    if (failure) return callback(failure);
    if (dest.destroyed || dest.writableEnded) return callback((failure = closedEarly()));
    if (dest.write(data)) return callback();
    dest.once('drain', () => callback());
  }

  /** An object as its JSON line; a Buffer is taken as a JSON line already written (runBatch's join writes them so). */
  const lineOf = (value: unknown): string | Buffer => (Buffer.isBuffer(value) ? Buffer.concat([value, NEWLINE]) : `${JSON.stringify(value)}\n`);

  const sink = new Writable({
    objectMode: true,
    highWaterMark: 32,
    write(result: unknown, _encoding, callback) {
      writeOut(lineOf(result), callback);
    },
    writev(chunks, callback) {
      const lines = chunks.map(({ chunk }) => lineOf(chunk));
      writeOut(lines.every((line) => typeof line === 'string') ? lines.join('') : Buffer.concat(lines.map((line) => (typeof line === 'string' ? Buffer.from(line) : line))), callback);
    },
    final(callback) {
      ending = true;
      if (!ownsTarget && options.end !== true) return callback();
      dest.end();
      finishing = finished(dest).then(async () => {
        if (partial === undefined) return;
        // Destroyed (aborted) while the last bytes were flushed: the old file stays, as the caller is told.
        if (sink.destroyed) throw new Error('destroyed before the rename');
        // The point of no return: from here the complete file goes into place, and a late abort no longer undoes it.
        forgetAbort();
        await rename(partial, target as string).catch((err: unknown) => {
          throw asIoFailure(err);
        });
        completed = true;
      });
      finishing.then(
        () => callback(),
        (err: Error) => callback(err),
      );
    },
    destroy(err, callback) {
      dest.removeListener('error', onError);
      dest.removeListener('close', onClose);
      if (partial === undefined) return callback(err);
      // Waits for a rename under way, so removing the temp file never races it.
      (finishing ?? Promise.resolve())
        .catch(() => undefined)
        .then(async () => {
          if (completed) return;
          dest.destroy();
          await finished(dest).catch(() => undefined);
          await rm(partial, { force: true });
        })
        .then(
          () => callback(err),
          () => callback(err),
        );
    },
  });
  const forgetAbort = destroyOnAbort(sink, options.signal);
  return sink;
}

export interface CallbackSinkOptions {
  /** Results buffered ahead of the callback (default 16). */
  highWaterMark?: number;
  signal?: AbortSignal;
}

/**
 * Hands each result to `handle` and waits for it (a returned promise) before
 * taking the next, so a slow database slows the join instead of filling
 * memory. A throw or rejection stops the pipeline with SINK_CALLBACK_FAILED.
 */
export function createCallbackSink<T = JoinedResult>(
  handle: (result: T) => unknown,
  options: CallbackSinkOptions = {},
): Writable {
  if (typeof handle !== 'function') throw invalidOption('handle', 'createCallbackSink takes a function');
  const sink = new Writable({
    objectMode: true,
    highWaterMark: options.highWaterMark ?? 16,
    write(result: T, _encoding, callback) {
      let pending: unknown;
      try {
        pending = handle(result);
      } catch (err) {
        return callback(callbackFailure(err, result));
      }
      if (pending && typeof (pending as PromiseLike<unknown>).then === 'function') {
        (pending as PromiseLike<unknown>).then(
          () => callback(),
          (err: unknown) => callback(callbackFailure(err, result)),
        );
      } else callback();
    },
  });
  destroyOnAbort(sink, options.signal);
  return sink;
}

function callbackFailure(err: unknown, result: unknown): Error {
  if (err instanceof BatchlineError) return err;
  const where = result as { custom_id?: unknown; line?: unknown } | null;
  return new BatchlineError('SINK_CALLBACK_FAILED', `the result callback failed: ${(err as Error)?.message ?? String(err)}`, {
    customId: typeof where?.custom_id === 'string' ? where.custom_id : undefined,
    line: typeof where?.line === 'number' ? where.line : undefined,
    cause: err,
  });
}
