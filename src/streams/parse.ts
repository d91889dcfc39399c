import { Duplex, Readable, pipeline } from 'node:stream';
import { invalidOption } from '../errors.ts';
import { LineParser, type LineParserOptions, type ParseStats } from '../core/line-parser.ts';
import { pumpFile, type PumpFileOptions } from '../io/file-reader.ts';
import { destroyOnAbort } from './abortable.ts';

export type { ParseStats };

export interface ParserOptions extends LineParserOptions {
  signal?: AbortSignal;
}

/**
 * JSONL bytes → `{line, value, bytes}`. Also takes plain objects (rows of a
 * database cursor, queue messages) and passes them on as `{line, value}`
 * without serialising, `line` being their 1-based position. One stream takes
 * bytes or objects, not both. The parsing is LineParser's; this is its face.
 *
 * A line from bytes is passed on as a DecodedLine: it holds the decoded text,
 * not a view into the chunk it came from, so the parser is done with a chunk
 * when it calls back for it (parseFile relies on this to reuse its buffers).
 * A chunk is called back for only once its lines are all read or queued
 * within the readable highWaterMark: one large write is not pushed all at once.
 * (A Duplex, not a Transform: Transform would push every line of a chunk, and
 * decide by itself when to call back for it.)
 */
export class RequestParser extends Duplex {
  private readonly parser: LineParser;
  /** The callback for a chunk the parser stopped in because the reader had no room; _read goes on with it. */
  private waiting: ((error?: Error | null) => void) | undefined;

  constructor(options: ParserOptions = {}) {
    super({ writableObjectMode: true, readableObjectMode: true, writableHighWaterMark: 8, readableHighWaterMark: 64 });
    this.parser = new LineParser(options, (line) => this.push(line));
    // A Readable holds back what is pushed before its first read (a Transform opts out of that in its
    // constructor). Reading nothing now lets the lines of the first writes go on as they are parsed,
    // so that a bad line further on is not reported before the lines ahead of it reach the next stage.
    this.read(0);
    destroyOnAbort(this, options.signal);
  }

  get stats(): ParseStats {
    return this.parser.stats;
  }

  override _write(chunk: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let done: boolean;
    try {
      if (Buffer.isBuffer(chunk)) done = this.parser.bytes(chunk);
      else if (typeof chunk === 'string') done = this.parser.bytes(Buffer.from(chunk, 'utf8'));
      else if (chunk instanceof Uint8Array) done = this.parser.bytes(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      else done = this.parser.object(chunk === NULL_ROW ? null : chunk);
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (done) callback();
    else this.waiting = callback;
  }

  override _read(): void {
    const callback = this.waiting;
    if (callback === undefined) return;
    this.waiting = undefined;
    let done: boolean;
    try {
      done = this.parser.resume();
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (done) callback();
    else this.waiting = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    try {
      this.parser.end();
    } catch (err) {
      callback(err as Error);
      return;
    }
    this.push(null);
    callback();
  }
}

export function createParser(options: ParserOptions = {}): RequestParser {
  return new RequestParser(options);
}

/**
 * A null row on its way from an iterable into the parser. Readable.from
 * refuses null (in object mode it would mean the end), so a null row would
 * otherwise fail the run with Node's uncoded ERR_STREAM_NULL_VALUES instead of
 * reaching the validator as the bad line it is (INVALID_REQUEST, or skipped).
 */
const NULL_ROW = Symbol('null row');

function* nullSafeRows(rows: Iterable<unknown>): Generator<unknown> {
  for (const row of rows) yield row === null ? NULL_ROW : row;
}

async function* nullSafeRowsAsync(rows: AsyncIterable<unknown>): AsyncGenerator<unknown> {
  for await (const row of rows) yield row === null ? NULL_ROW : row;
}

/** Anything parseSource reads: a Readable of bytes or objects, or an (async) iterable of objects, Buffers or strings. */
export type RequestSource = Readable | AsyncIterable<unknown> | Iterable<unknown>;

/**
 * Starts a parser on `source` and returns it. Buffers and strings are read as
 * JSONL text cut anywhere; any other value is one request (or row) as is.
 * An error in the source destroys the parser with that error.
 */
export function parseSource(source: RequestSource, options: ParserOptions = {}): RequestParser {
  const parser = createParser(options);
  let readable: Readable;
  if (source instanceof Readable) readable = source;
  else if (source !== null && typeof source === 'object' && Symbol.asyncIterator in source) {
    readable = Readable.from(nullSafeRowsAsync(source), { objectMode: true });
  } else if (source !== null && typeof source === 'object' && Symbol.iterator in source) {
    readable = Readable.from(nullSafeRows(source), { objectMode: true });
  } else {
    throw invalidOption('source', 'parseSource takes a Readable or an (async) iterable');
  }
  pipeline(readable, parser, (err) => {
    if (err && !parser.destroyed) parser.destroy(err);
  });
  return parser;
}

/**
 * Starts a parser on the file at `path` and returns it. The file is read
 * through a few reused buffers (see pumpFile) rather than a buffer per chunk,
 * which keeps the resident memory of a large file flat. A file that cannot be
 * read destroys the parser with INPUT_UNREADABLE.
 */
export function parseFile(path: string, options: ParserOptions & PumpFileOptions = {}): RequestParser {
  const parser = createParser(options);
  pumpFile(path, parser, { chunkBytes: options.chunkBytes }).catch((err: unknown) => {
    // An error of the parser's own has destroyed it already.
    if (!parser.destroyed) parser.destroy(err as Error);
  });
  return parser;
}
