/**
 * One response body as Buffers in the order they arrived, read one at a time:
 * from the Node Readable behind a response of our own SDK (body-fetch.ts), or
 * from the response's web stream when the SDK instance is the caller's. The
 * Node body is read in flowing mode and paused while a chunk waits, so chunks
 * are never concatenated (a paused Readable's read() copies what it holds
 * into one buffer).
 */
import type { Readable } from 'node:stream';
import { nodeBodyOf } from './body-fetch.ts';

export interface BodyChunks {
  /** The next chunk, or null at the end; throws the body's error. */
  next(): Promise<Buffer | null>;
  /** Stops reading and releases the connection; safe at any time, more than once. */
  cancel(): void;
}

class NodeBodyChunks implements BodyChunks {
  readonly #body: Readable;
  readonly #queue: Buffer[] = [];
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(body: Readable) {
    this.#body = body;
    body.on('data', (chunk: Buffer) => {
      this.#queue.push(chunk);
      // Nobody is waiting for it: stop the flow until it is taken (the socket is paused in turn).
      if (!this.#wake) body.pause();
      this.#notify();
    });
    body.on('end', () => {
      this.#ended = true;
      this.#notify();
    });
    body.on('error', (err: Error) => {
      this.#error ??= err;
      this.#notify();
    });
    body.on('close', () => {
      if (this.#ended) return;
      this.#error ??= Object.assign(new Error('The response body closed before its end'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async next(): Promise<Buffer | null> {
    for (;;) {
      const chunk = this.#queue.shift();
      if (chunk) {
        if (this.#queue.length === 0 && this.#body.isPaused()) this.#body.resume();
        return chunk;
      }
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      if (this.#body.isPaused()) this.#body.resume();
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  cancel(): void {
    this.#queue.length = 0;
    this.#body.destroy();
  }
}

class WebBodyChunks implements BodyChunks {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  async next(): Promise<Buffer | null> {
    const { done, value } = await this.#reader.read();
    return done ? null : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }

  cancel(): void {
    this.#reader.cancel().catch(() => undefined);
  }
}

/** The response's body as chunks; null when it has none. */
export function bodyChunks(response: Response): BodyChunks | null {
  const node = nodeBodyOf(response);
  if (node) return new NodeBodyChunks(node);
  return response.body ? new WebBodyChunks(response.body) : null;
}
