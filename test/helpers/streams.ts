/** Small stream fixtures the stage tests share. */
import { Readable, Writable } from 'node:stream';

/** The same bytes as a stream cut every `size` bytes, to test every chunk boundary. */
export function chunked(input: Buffer, size: number): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i += size) chunks.push(input.subarray(i, i + size));
  return Readable.from(chunks, { objectMode: false });
}

/** An object-mode sink that keeps everything it is given. */
export function collect(into: unknown[]): Writable {
  return new Writable({
    objectMode: true,
    write(chunk, _encoding, callback) {
      into.push(chunk);
      callback();
    },
  });
}

/** One turn of the event loop: every nextTick and promise job queued before it has run. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Resolves once the in-memory streams under test have nothing left to do:
 * `probe` (their counters, as a string) reads the same before and after a
 * turn of the event loop. Streams move on nextTicks and promise jobs, which
 * all run within one turn, so a turn that changes nothing means they wait.
 */
export async function settled(probe: () => string): Promise<void> {
  let last = probe();
  for (;;) {
    await turn();
    const now = probe();
    if (now === last) return;
    last = now;
  }
}
