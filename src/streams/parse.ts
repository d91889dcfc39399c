import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { BatchlineError, OptionError, ParseError } from '../errors.ts';
import { DEFAULT_MAX_LINE_BYTES, DecodedLine, LineSplitter, ObjectLine, isBlank } from '../core/lines.ts';
import { SkippedLines, checkInvalidPolicy, type InvalidPolicy } from '../core/invalid-policy.ts';
import { pumpFile, type PumpFileOptions } from '../io/file-reader.ts';
import { destroyOnAbort } from './abortable.ts';
import { wholeNumberOption } from '../core/options.ts';

export interface ParserOptions {
  /** A line longer than this (without its line break) fails with LINE_TOO_LARGE. Default 200,000,000. */
  maxLineBytes?: number;
  /** What to do with a line that is not JSON (INVALID_JSON). Default `'error'`. */
  onInvalid?: InvalidPolicy;
  /** How many skipped lines keep their error in `stats.skippedErrors`. Default 1000. */
  maxReportedErrors?: number;
  signal?: AbortSignal;
}

export interface ParseStats {
  /** Lines seen, blank ones included (objects count as one line each). */
  lines: number;
  blank: number;
  /** Values emitted downstream. */
  values: number;
  skipped: number;
  skippedErrors: BatchlineError[];
  /** Input bytes read (0 for object input). */
  bytes: number;
}

/**
 * JSONL bytes → `{line, value, bytes}`. Also takes plain objects (rows of a
 * database cursor, queue messages) and passes them on as `{line, value}`
 * without serialising, `line` being their 1-based position. One stream takes
 * bytes or objects, not both.
 *
 * A line from bytes is passed on as a DecodedLine: it holds the decoded text,
 * not a view into the chunk it came from, so the parser is done with a chunk
 * when it calls back for it (parseFile relies on this to reuse its buffers).
 */
export class RequestParser extends Transform {
  private readonly splitter: LineSplitter;
  private readonly skipped: SkippedLines;
  private mode: 'bytes' | 'objects' | undefined;
  private objectLine = 0;
  private inputBytes = 0;
  private blankLines = 0;
  private values = 0;
  /** The callback for a byte chunk whose lines are not all pushed yet: the reader asked for no more. */
  private heldCallback: TransformCallback | undefined;

  constructor(options: ParserOptions = {}) {
    super({ writableObjectMode: true, readableObjectMode: true, writableHighWaterMark: 8, readableHighWaterMark: 64 });
    const maxLineBytes = wholeNumberOption(options.maxLineBytes, 'maxLineBytes', DEFAULT_MAX_LINE_BYTES);
    this.skipped = new SkippedLines(checkInvalidPolicy(options.onInvalid), options.maxReportedErrors);
    // Each line is decoded in onLine before the next push, so the splitter may reuse its carry buffers.
    this.splitter = new LineSplitter(maxLineBytes, (bytes, line) => this.onLine(bytes, line), { reuseCarry: true });
    destroyOnAbort(this, options.signal);
  }

  get stats(): ParseStats {
    return {
      lines: this.mode === 'objects' ? this.objectLine : this.splitter.line,
      blank: this.blankLines,
      values: this.values,
      skipped: this.skipped.count,
      skippedErrors: this.skipped.errors,
      bytes: this.inputBytes,
    };
  }

  override _transform(chunk: unknown, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      let done = true;
      if (Buffer.isBuffer(chunk)) done = this.pushBytes(chunk);
      else if (typeof chunk === 'string') done = this.pushBytes(Buffer.from(chunk, 'utf8'));
      else if (chunk instanceof Uint8Array) done = this.pushBytes(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      else this.pushObject(chunk);
      // A chunk of many lines stops where the reader's buffer filled up; _read goes on with it.
      if (done) callback();
      else this.heldCallback = callback;
    } catch (err) {
      callback(err as Error);
    }
  }

  /**
   * The reader wants more: the rest of a held chunk comes first. Transform
   * holds back the next chunk by itself (it calls back for a chunk only once
   * the reader has room), but not the lines within one, so one large write
   * would otherwise be pushed all at once whatever the highWaterMark.
   */
  override _read(size: number): void {
    const callback = this.heldCallback;
    if (!callback) {
      super._read(size);
      return;
    }
    this.heldCallback = undefined;
    const before = this.values;
    let done: boolean;
    try {
      done = this.splitter.resume();
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (!done) {
      this.heldCallback = callback;
      return;
    }
    const pushed = this.values !== before;
    callback();
    // Readable calls _read again only after a push. When the rest of the chunk pushed nothing (blank
    // or skipped lines) and Transform then held the next chunk back for a reader with a full buffer,
    // nothing would push: that chunk is let through here, and its first line pauses it again.
    if (!pushed) super._read(size);
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.splitter.end();
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  private setMode(mode: 'bytes' | 'objects'): void {
    if (this.mode === mode) return;
    if (this.mode !== undefined) {
      throw new ParseError('MIXED_INPUT', 'the parser was given both bytes and objects; feed it one kind', {
        line: (this.mode === 'objects' ? this.objectLine : this.splitter.line) + 1,
      });
    }
    this.mode = mode;
  }

  /** False when the reader's buffer filled up part way through the chunk. */
  private pushBytes(chunk: Buffer): boolean {
    this.setMode('bytes');
    this.inputBytes += chunk.length;
    return this.splitter.push(chunk);
  }

  private pushObject(value: unknown): void {
    this.setMode('objects');
    const line = ++this.objectLine;
    this.values++;
    this.push(new ObjectLine(line, value === NULL_ROW ? null : value));
  }

  private onLine(bytes: Buffer, line: number): void {
    if (isBlank(bytes)) {
      this.blankLines++;
      return;
    }
    let parsed: DecodedLine;
    try {
      parsed = DecodedLine.decode(bytes, line, JSON.parse);
    } catch (err) {
      this.skipped.handle(
        new ParseError('INVALID_JSON', `line ${line} is not valid JSON: ${(err as Error).message}`, { line, cause: err }),
      );
      return;
    }
    this.values++;
    if (!this.push(parsed)) this.splitter.pause();
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
    throw new OptionError('INVALID_OPTION', 'parseSource takes a Readable or an (async) iterable');
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
