import type { Duplex, Writable } from 'node:stream';
import { AbortError, abortMessage } from '../errors.ts';

/**
 * Destroys `stream` with a coded AbortError when `signal` fires; forgets the
 * signal once the stream closes. Returns a function that forgets it sooner:
 * for a stream past its point of no return (a file being renamed into place).
 */
export function destroyOnAbort(stream: Duplex | Writable, signal: AbortSignal | undefined): () => void {
  if (!signal) return () => undefined;
  let live = true;
  const onAbort = () => {
    if (live) stream.destroy(new AbortError(abortMessage(signal)));
  };
  const forget = () => {
    live = false;
    signal.removeEventListener('abort', onAbort);
  };
  if (signal.aborted) queueMicrotask(onAbort);
  else signal.addEventListener('abort', onAbort, { once: true });
  stream.once('close', forget);
  return forget;
}

/**
 * The items of `source`, each read raced against `signal`. A source that
 * stalls (a download that stopped sending) would otherwise hold its reader
 * past an abort, and with it whatever the reader cleans up afterwards. On
 * abort the pending read is abandoned with a coded AbortError and the
 * source's iterator is told to return, which destroys a Readable.
 */
export async function* raceAbort<T>(source: AsyncIterable<T>, signal: AbortSignal | undefined): AsyncGenerator<T> {
  if (!signal) return yield* source;
  const iterator = source[Symbol.asyncIterator]();
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(new AbortError(abortMessage(signal)));
  });
  // Rejected only when the signal fires; whoever is reading then sees it through the race.
  aborted.catch(() => undefined);
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  let finished = false;
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), aborted]);
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    // An abort, an error or a reader that stopped early: let the source go, as a for-await loop
    // would. A Readable is destroyed directly, since its iterator's return() waits behind the
    // pending read; return() is not awaited, as a stalled source may never answer.
    if (!finished) {
      if (isDestroyable(source)) source.destroy();
      else iterator.return?.()?.catch(() => undefined);
    }
  }
}

function isDestroyable(source: object): source is { destroy(): void } {
  return typeof (source as { destroy?: unknown }).destroy === 'function';
}
