/**
 * Cuts a byte stream into runs of whole lines: each `push` returns the bytes
 * up to and including the last `\n` seen so far, and keeps the rest until its
 * line ends. A run is a list of pieces (the carried start of a line, then the
 * chunk up to its last break), never copied: a writer sends them in one
 * writev, and a reader that wants one buffer concatenates. The carried part
 * has a cap, so a line with no end cannot grow without bound. Pure: no I/O,
 * so a download can restart and feed it again from any line boundary.
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

  /** The pieces of the whole lines completed by `chunk` (null when none); the last piece ends in `\n`. */
  push(chunk: Buffer): Buffer[] | null {
    const end = chunk.lastIndexOf(NEWLINE);
    if (end === -1) {
      this.#hold(chunk);
      return null;
    }
    const head = chunk.subarray(0, end + 1);
    let lines: Buffer[];
    if (this.#carryBytes === 0) lines = [head];
    else {
      const firstBreak = head.indexOf(NEWLINE);
      if (this.#carryBytes + firstBreak + 1 > this.maxLineBytes) this.#overflow(this.#carryBytes + firstBreak + 1);
      lines = this.#carry;
      lines.push(head);
      this.#carry = [];
      this.#carryBytes = 0;
    }
    if (end + 1 < chunk.length) this.#hold(chunk.subarray(end + 1));
    return lines;
  }

  /** The pieces of the unfinished last line (null when none), and a fresh start. */
  flush(): Buffer[] | null {
    const rest = this.#carryBytes === 0 ? null : this.#carry;
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
