/**
 * The seams between the emulator's parts: the HTTP server and Files/Uploads
 * store on one side, the batch engine on the other.
 */
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { FileObject } from '../types.ts';

/** An API error as the service sends it: `{"error": {message, type, param, code}}` with an HTTP status. */
export class EmulatorHttpError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    message: string,
    fields: { type?: string; param?: string | null; code?: string | null; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.status = status;
    this.type = fields.type ?? (status === 401 ? 'invalid_request_error' : status >= 500 ? 'server_error' : 'invalid_request_error');
    this.param = fields.param ?? null;
    this.code = fields.code ?? null;
    this.headers = fields.headers ?? {};
  }

  toBody(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/**
 * Emulator time: real time plus an offset that tests move forward, so an
 * upload's 1 h expiry or a batch's 24 h window can be crossed in a millisecond.
 */
export class EmulatorClock extends EventEmitter {
  private offsetMs = 0;

  /** Emulator time in milliseconds since the epoch. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Emulator time in whole seconds, as the API's timestamps are. */
  nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** Moves emulator time forward and tells listeners ('advance') so they can expire what is due. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('the clock only moves forward');
    this.offsetMs += ms;
    this.emit('advance', this.now());
  }
}

/** Where file bodies live: memory by default, a state directory when asked. Bodies are streamed, never held as one string. */
export interface FileStore {
  /** Stores a new file from a stream of chunks and returns its object once every byte is written. */
  create(meta: { filename: string; purpose: string; expiresAt?: number | null }, content: AsyncIterable<Buffer>): Promise<FileObject>;
  get(id: string): FileObject | undefined;
  /** The file's bytes as a stream; throws EmulatorHttpError 404 when there is no such file. */
  read(id: string): Readable;
  delete(id: string): Promise<boolean>;
  list(): FileObject[];
}
