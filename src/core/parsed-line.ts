import { isUtf8 } from 'node:buffer';
import type { ParsedLine } from '../types.ts';

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
