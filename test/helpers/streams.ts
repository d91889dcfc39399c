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
