import { isUtf8 } from 'node:buffer';
import { LimitError, OptionError, ValidationError } from '../errors.ts';
import type { ParsedLine } from '../types.ts';

export const DEFAULT_MAX_LINE_BYTES = 200_000_000;

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into lines, correct across any chunk boundary and any
 * split UTF-8 sequence (it cuts only at 0x0A, which never occurs inside a
 * multi-byte character). Accepts LF and CRLF, drops a leading UTF-8 BOM, and
 * refuses a line longer than `maxLineBytes` before buffering it whole.
 *
 * Emitted buffers are views into the input chunks where possible (no copy);
 * a line that spans chunks is concatenated once. Blank lines are emitted too,
 * so that line numbers stay true; callers decide what a blank line means.
 *
 * With `reuseCarry`, a line that spans chunks is assembled in one of two
 * buffers the splitter keeps, instead of a new buffer per line, and the
 * splitter keeps no view into a chunk once push() returns (so the caller may
 * reuse it). Such a line is valid only until the next push() or end(): for
 * callers that use each line before they push again.
 *
 * A caller that cannot take more lines for now calls pause() from onLine:
 * the splitter stops after that line and holds the rest of the chunk (a view:
 * the chunk must stay as it is) until resume(). push() and resume() return
 * false when they stopped part way, true once the chunk is used up.
 */
export interface LineSplitterOptions {
  reuseCarry?: boolean;
}

// A carry buffer that grew past this for one long line is dropped after it, not kept for the run.
const KEEP_CARRY_BYTES = 1 << 20;
const FIRST_CARRY_BYTES = 16 * 1024;

export class LineSplitter {
  /** 1-based number of the last line emitted. */
  line = 0;
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private readonly maxLineBytes: number;
  private readonly onLine: (bytes: Buffer, line: number) => void;
  private readonly reuseCarry: boolean;
  /** The two reused carry buffers (reuseCarry only), allocated on first use; `active` is being filled. */
  private readonly spare: Array<Buffer | undefined> = [undefined, undefined];
  private active = 0;
  /** Set by pause() from onLine; the chunk being split and where its next line starts. */
  private pausing = false;
  private held: Buffer | undefined;
  private heldStart = 0;

  constructor(maxLineBytes: number, onLine: (bytes: Buffer, line: number) => void, options: LineSplitterOptions = {}) {
    this.maxLineBytes = maxLineBytes;
    this.onLine = onLine;
    this.reuseCarry = options.reuseCarry ?? false;
  }

  /**
   * Splits `chunk`; false when onLine paused the splitter before the chunk
   * was used up. Then the next chunk waits until resume() returns true.
   */
  push(chunk: Buffer): boolean {
    // The held rest of a paused chunk comes first; taking another now would reorder or lose lines.
    if (this.held !== undefined) {
      throw new OptionError('SPLITTER_PAUSED', 'push() was called while a paused chunk is held; call resume() until it returns true first');
    }
    return this.split(chunk, 0);
  }

  /** Asks the splitter to stop after the line being emitted; only from within onLine. */
  pause(): void {
    this.pausing = true;
  }

  /** Goes on with the rest of a chunk a pause left; true once it is used up (or when nothing was held). */
  resume(): boolean {
    const chunk = this.held;
    if (!chunk) return true;
    this.held = undefined;
    return this.split(chunk, this.heldStart);
  }

  /** Flushes a last line that has no line break after it. */
  end(): void {
    if (this.carryBytes > 0) this.emit(this.takeCarry());
  }

  private split(chunk: Buffer, start: number): boolean {
    this.pausing = false;
    let newline = chunk.indexOf(LF, start);
    while (newline !== -1) {
      if (this.carryBytes > 0) {
        this.checkSize(this.carryBytes + newline - start);
        this.keep(chunk, start, newline);
        this.emit(this.takeCarry());
      } else {
        this.checkSize(newline - start);
        this.emit(chunk.subarray(start, newline));
      }
      start = newline + 1;
      if (this.pausing && start < chunk.length) {
        this.pausing = false;
        this.held = chunk;
        this.heldStart = start;
        return false;
      }
      newline = chunk.indexOf(LF, start);
    }
    this.pausing = false;
    if (start < chunk.length) {
      this.checkSize(this.carryBytes + chunk.length - start);
      this.keep(chunk, start, chunk.length);
    }
    return true;
  }

  /** Holds chunk[start, end) as part of the line that continues in the next chunk. */
  private keep(chunk: Buffer, start: number, end: number): void {
    const bytes = this.carryBytes + end - start;
    if (!this.reuseCarry) {
      this.carry.push(chunk.subarray(start, end));
      this.carryBytes = bytes;
      return;
    }
    let buffer = this.spare[this.active];
    if (buffer === undefined || buffer.length < bytes) {
      const doubled = buffer === undefined ? FIRST_CARRY_BYTES : 2 * buffer.length;
      const grown = Buffer.allocUnsafeSlow(Math.max(bytes, Math.min(doubled, this.maxLineBytes + 1)));
      if (buffer !== undefined) buffer.copy(grown, 0, 0, this.carryBytes);
      this.spare[this.active] = buffer = grown;
    }
    chunk.copy(buffer, this.carryBytes, start, end);
    this.carryBytes = bytes;
  }

  /** The whole carried line; with reuseCarry, the other buffer takes the next one so this one stays intact until the next push. */
  private takeCarry(): Buffer {
    const bytes = this.carryBytes;
    this.carryBytes = 0;
    if (!this.reuseCarry) {
      const joined = Buffer.concat(this.carry, bytes);
      this.carry = [];
      return joined;
    }
    const buffer = this.spare[this.active] as Buffer;
    if (buffer.length > KEEP_CARRY_BYTES) this.spare[this.active] = undefined;
    this.active ^= 1;
    return buffer.subarray(0, bytes);
  }

  private checkSize(bytes: number): void {
    // A raw line may carry bytes that emit() strips before its exact check: the CR of a CRLF, and
    // on line 1 a UTF-8 BOM. Only what is past those is refused here, before it is buffered.
    if (bytes > this.maxLineBytes + (this.line === 0 ? 4 : 1)) {
      throw new LimitError(
        'LINE_TOO_LARGE',
        `line ${this.line + 1} is longer than ${this.maxLineBytes} bytes`,
        { line: this.line + 1 },
      );
    }
  }

  private emit(bytes: Buffer): void {
    this.line++;
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === CR) end--;
    let begin = 0;
    if (this.line === 1 && end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) begin = 3;
    if (end - begin > this.maxLineBytes) {
      throw new LimitError('LINE_TOO_LARGE', `line ${this.line} is longer than ${this.maxLineBytes} bytes`, {
        line: this.line,
      });
    }
    this.onLine(begin === 0 && end === bytes.length ? bytes : bytes.subarray(begin, end), this.line);
  }
}

/** True when a line holds nothing but JSON whitespace. */
export function isBlank(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b !== 0x20 && b !== 0x09 && b !== CR && b !== LF) return false;
  }
  return true;
}

/**
 * One JSONL line as the request stages pass it on: decoded once (JSON.parse
 * needs the text anyway), its raw bytes made only when someone asks for them.
 * Holding text rather than a view into the read chunk means no stage keeps a
 * chunk alive: a chunk can be reused, or collected young, as soon as it is
 * split, instead of piling up as external memory until a full GC. A line that
 * is not valid UTF-8 keeps a copy of its bytes, since its text would not
 * encode back to them.
 */
export class DecodedLine<T = unknown> implements ParsedLine<T> {
  readonly line: number;
  readonly value: T;
  /** The line decoded as UTF-8. */
  readonly text: string;
  /** Length of the raw line in bytes. */
  readonly byteLength: number;
  private raw: Buffer | undefined;
  private readonly exact: boolean;

  constructor(line: number, value: T, text: string, byteLength: number, raw: Buffer | undefined) {
    this.line = line;
    this.value = value;
    this.text = text;
    this.byteLength = byteLength;
    this.raw = raw;
    this.exact = raw === undefined;
  }

  /** Decodes `bytes` (a view that may be overwritten later: it is not kept). */
  static decode(bytes: Buffer, line: number, parse: (text: string) => unknown): DecodedLine {
    const text = bytes.toString('utf8');
    const value = parse(text);
    return new DecodedLine(line, value, text, bytes.length, isUtf8(bytes) ? undefined : Buffer.from(bytes));
  }

  /** The raw line without its line break. */
  get bytes(): Buffer {
    return (this.raw ??= Buffer.from(this.text, 'utf8'));
  }

  /** The text when it encodes back to exactly the raw bytes (the line was valid UTF-8). */
  get exactText(): string | undefined {
    return this.exact ? this.text : undefined;
  }

  /** The same line carrying another value (the validated request). */
  withValue<U>(value: U): DecodedLine<U> {
    return new DecodedLine<U>(this.line, value, this.text, this.byteLength, this.exact ? undefined : this.raw);
  }
}

/**
 * A value the parser was given as an object (a database row, a queue
 * message), numbered by its position. Parser output has a class of its own
 * so that the validator never mistakes a row for it: a row may well have
 * fields named `line` and `value`.
 */
export class ObjectLine<T = unknown> implements ParsedLine<T> {
  readonly line: number;
  readonly value: T;

  constructor(line: number, value: T) {
    this.line = line;
    this.value = value;
  }
}

/** True for what the parser emits (a DecodedLine or an ObjectLine), whatever other objects look like. */
export function isParsedLine(chunk: unknown): chunk is ParsedLine {
  return chunk instanceof DecodedLine || chunk instanceof ObjectLine;
}

/**
 * How a request line is written out: its original text or bytes when it came
 * as JSONL, otherwise serialised once. `size` is its length in UTF-8 bytes.
 * An object that JSON cannot hold (a BigInt, a cycle, a throwing toJSON) is
 * INVALID_REQUEST with its line and custom_id.
 */
export function lineOutput(request: ParsedLine): { raw: Buffer | undefined; text: string | undefined; size: number } {
  if (request instanceof DecodedLine) {
    const text = request.exactText;
    if (text !== undefined) return { raw: undefined, text, size: request.byteLength };
  }
  const raw = request.bytes;
  if (raw !== undefined) return { raw, text: undefined, size: raw.length };
  let text: string | undefined;
  try {
    text = JSON.stringify(request.value);
  } catch (err) {
    throw notSerialisable(request, (err as Error).message, err);
  }
  if (typeof text !== 'string') throw notSerialisable(request, 'JSON.stringify gave nothing');
  return { raw: undefined, text, size: Buffer.byteLength(text) };
}

function notSerialisable(request: ParsedLine, why: string, cause?: unknown): ValidationError {
  const id = (request.value as { custom_id?: unknown } | null)?.custom_id;
  const customId = typeof id === 'string' ? id : undefined;
  return new ValidationError('INVALID_REQUEST', `the request on line ${request.line} cannot be written as JSON: ${why}`, {
    line: request.line,
    customId,
    cause,
  });
}
