/**
 * Cuts a byte stream into runs of whole lines: each `push` returns the bytes
 * up to and including the last `\n` seen so far (one buffer, copied only when
 * a line spans chunks), and keeps the rest until its line ends. The carried
 * part has a cap, so a line with no end cannot grow without bound. Pure: no
 * I/O, so a download can restart and feed it again from any line boundary.
 */
import { LimitError } from '../errors.ts';

const NEWLINE = 0x0a;

export class WholeLines {
  readonly maxLineBytes: number;
  #carry: Buffer[] = [];
  #carryBytes = 0;

  constructor(maxLineBytes: number) {
    this.maxLineBytes = maxLineBytes;
  }

  /** Bytes held back: the start of a line that has not ended yet. */
  get pendingBytes(): number {
    return this.#carryBytes;
  }

  /** The whole lines completed by `chunk` (null when none), each ending in `\n`. */
  push(chunk: Buffer): Buffer | null {
    const end = chunk.lastIndexOf(NEWLINE);
    if (end === -1) {
      this.#hold(chunk);
      return null;
    }
    let lines: Buffer;
    if (this.#carryBytes === 0) lines = chunk.subarray(0, end + 1);
    else {
      const head = chunk.subarray(0, end + 1);
      const firstBreak = head.indexOf(NEWLINE);
      if (this.#carryBytes + firstBreak + 1 > this.maxLineBytes) this.#overflow(this.#carryBytes + firstBreak + 1);
      lines = Buffer.concat([...this.#carry, head], this.#carryBytes + head.length);
      this.#carry = [];
      this.#carryBytes = 0;
    }
    if (end + 1 < chunk.length) this.#hold(chunk.subarray(end + 1));
    return lines;
  }

  /** The unfinished last line (null when none), and a fresh start. */
  flush(): Buffer | null {
    const rest = this.#carryBytes === 0 ? null : Buffer.concat(this.#carry, this.#carryBytes);
    this.reset();
    return rest;
  }

  /** Drops whatever was carried: the body it came from is being read again from the last line boundary. */
  reset(): void {
    this.#carry = [];
    this.#carryBytes = 0;
  }

  #hold(part: Buffer): void {
    if (this.#carryBytes + part.length > this.maxLineBytes) this.#overflow(this.#carryBytes + part.length);
    this.#carry.push(part);
    this.#carryBytes += part.length;
  }

  #overflow(bytes: number): never {
    throw new LimitError('LINE_TOO_LARGE', `a result line is longer than maxLineBytes (${this.maxLineBytes}): ${bytes} bytes without a line break`);
  }
}
