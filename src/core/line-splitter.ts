import { BatchlineError, LimitError } from '../errors.ts';

export const DEFAULT_MAX_LINE_BYTES = 200_000_000;

const LF = 0x0a;
const CR = 0x0d;

// A carry buffer that grew past this for one long line is dropped after it, not kept for the run.
const KEEP_CARRY_BYTES = 1 << 20;
const FIRST_CARRY_BYTES = 16 * 1024;

/**
 * Splits a byte stream into lines, correct across any chunk boundary and any
 * split UTF-8 sequence (it cuts only at 0x0A, which never occurs inside a
 * multi-byte character). Accepts LF and CRLF, drops a leading UTF-8 BOM, and
 * refuses a line longer than `maxLineBytes` before buffering it whole.
 * Blank lines are emitted too, so that line numbers stay true; callers decide
 * what a blank line means.
 *
 * A line is lent, not given: it is a view into the chunk it came from or, when
 * it spans chunks, into one of two carry buffers the splitter reuses. It stays
 * valid until the next push() or end(), so a caller uses (or copies) each line
 * before it pushes again. In return the splitter allocates nothing per line,
 * and keeps no view into a chunk once push() has used it up: the caller may
 * read into that chunk again.
 *
 * A caller that cannot take more lines for now calls pause() from onLine: the
 * splitter stops after that line and holds the rest of the chunk (a view: the
 * chunk must stay as it is) until resume(). push() and resume() return false
 * when they stopped on a pause, true once the chunk was split through.
 */
export class LineSplitter {
  /** 1-based number of the last line emitted. */
  line = 0;
  private readonly maxLineBytes: number;
  private readonly onLine: (bytes: Buffer, line: number) => void;
  /** The two carry buffers, allocated on first use; `active` holds the start of the line under way. */
  private readonly carry: Array<Buffer | undefined> = [undefined, undefined];
  private active = 0;
  private carryBytes = 0;
  /** Set by pause() from onLine; then the chunk being split and where its next line starts. */
  private pausing = false;
  private held: Buffer | undefined;
  private heldStart = 0;

  constructor(maxLineBytes: number, onLine: (bytes: Buffer, line: number) => void) {
    this.maxLineBytes = maxLineBytes;
    this.onLine = onLine;
  }

  /**
   * Splits `chunk`; false when onLine paused the splitter. Then the next chunk
   * waits until resume() returns true.
   */
  push(chunk: Buffer): boolean {
    // The held rest of a paused chunk comes first; taking another now would reorder or lose lines.
    if (this.held !== undefined) {
      throw new BatchlineError('SPLITTER_PAUSED', 'push() was called while a paused chunk is held; call resume() until it returns true first');
    }
    return this.split(chunk, 0);
  }

  /** Asks the splitter to stop after the line being emitted; only from within onLine. */
  pause(): void {
    this.pausing = true;
  }

  /** Goes on with what a pause left of a chunk; true once it is split through (at once when nothing is left). */
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
      if (this.pausing) {
        this.pausing = false;
        // A pause on the chunk's last line leaves nothing to hold, but the caller still asked to stop.
        if (start < chunk.length) {
          this.held = chunk;
          this.heldStart = start;
        }
        return false;
      }
      newline = chunk.indexOf(LF, start);
    }
    if (start < chunk.length) {
      this.checkSize(this.carryBytes + chunk.length - start);
      this.keep(chunk, start, chunk.length);
    }
    return true;
  }

  /** Copies chunk[start, end) into the active carry buffer, growing it by doubling up to the line cap. */
  private keep(chunk: Buffer, start: number, end: number): void {
    const bytes = this.carryBytes + end - start;
    let buffer = this.carry[this.active];
    if (buffer === undefined || buffer.length < bytes) {
      const doubled = buffer === undefined ? FIRST_CARRY_BYTES : 2 * buffer.length;
      const grown = Buffer.allocUnsafeSlow(Math.max(bytes, Math.min(doubled, this.maxLineBytes + 1)));
      if (buffer !== undefined) buffer.copy(grown, 0, 0, this.carryBytes);
      this.carry[this.active] = buffer = grown;
    }
    chunk.copy(buffer, this.carryBytes, start, end);
    this.carryBytes = bytes;
  }

  /** The whole carried line. The next one starts in the other buffer, so this one stays intact until the next push. */
  private takeCarry(): Buffer {
    const bytes = this.carryBytes;
    this.carryBytes = 0;
    const buffer = this.carry[this.active] as Buffer;
    if (buffer.length > KEEP_CARRY_BYTES) this.carry[this.active] = undefined;
    this.active ^= 1;
    return buffer.subarray(0, bytes);
  }

  private checkSize(bytes: number): void {
    // A raw line may carry bytes that emit() strips before its exact check: the CR of a CRLF, and
    // on line 1 a UTF-8 BOM. Only what is past those is refused here, before it is buffered.
    if (bytes > this.maxLineBytes + (this.line === 0 ? 4 : 1)) {
      throw new LimitError('LINE_TOO_LARGE', `line ${this.line + 1} is longer than ${this.maxLineBytes} bytes`, {
        line: this.line + 1,
      });
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
