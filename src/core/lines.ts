import { LimitError } from '../errors.ts';

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
 */
export class LineSplitter {
  /** 1-based number of the last line emitted. */
  line = 0;
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private readonly maxLineBytes: number;
  private readonly onLine: (bytes: Buffer, line: number) => void;

  constructor(maxLineBytes: number, onLine: (bytes: Buffer, line: number) => void) {
    this.maxLineBytes = maxLineBytes;
    this.onLine = onLine;
  }

  push(chunk: Buffer): void {
    let start = 0;
    let newline = chunk.indexOf(LF, start);
    while (newline !== -1) {
      if (this.carryBytes > 0) {
        this.checkSize(this.carryBytes + newline - start);
        this.carry.push(chunk.subarray(start, newline));
        const joined = Buffer.concat(this.carry, this.carryBytes + newline - start);
        this.carry = [];
        this.carryBytes = 0;
        this.emit(joined);
      } else {
        this.checkSize(newline - start);
        this.emit(chunk.subarray(start, newline));
      }
      start = newline + 1;
      newline = chunk.indexOf(LF, start);
    }
    if (start < chunk.length) {
      this.checkSize(this.carryBytes + chunk.length - start);
      this.carry.push(chunk.subarray(start));
      this.carryBytes += chunk.length - start;
    }
  }

  /** Flushes a last line that has no line break after it. */
  end(): void {
    if (this.carryBytes > 0) {
      const joined = Buffer.concat(this.carry, this.carryBytes);
      this.carry = [];
      this.carryBytes = 0;
      this.emit(joined);
    }
  }

  private checkSize(bytes: number): void {
    // A CRLF line may carry one byte more than the limit before the CR is stripped.
    if (bytes > this.maxLineBytes + 1) {
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
