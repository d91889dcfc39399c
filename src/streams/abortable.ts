import type { Duplex, Writable } from 'node:stream';
import { AbortError, abortMessage } from '../errors.ts';

/** Destroys `stream` with a coded AbortError when `signal` fires; forgets the signal once the stream closes. */
export function destroyOnAbort(stream: Duplex | Writable, signal: AbortSignal | undefined): void {
  if (!signal) return;
  const onAbort = () => stream.destroy(new AbortError(abortMessage(signal)));
  if (signal.aborted) {
    queueMicrotask(onAbort);
    return;
  }
  signal.addEventListener('abort', onAbort, { once: true });
  stream.once('close', () => signal.removeEventListener('abort', onAbort));
}
