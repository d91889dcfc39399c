import type { BatchlineError } from '../errors.ts';
import { ParseError } from '../errors.ts';
import type { ParsedLine } from '../types.ts';
import { SkippedLines, checkInvalidPolicy, type InvalidPolicy } from './invalid-policy.ts';
import { DEFAULT_MAX_LINE_BYTES, LineSplitter, isBlank } from './line-splitter.ts';
import { wholeNumberOption } from './options.ts';
import { DecodedLine, ObjectLine } from './parsed-line.ts';

export interface LineParserOptions {
  /** A line longer than this (without its line break) fails with LINE_TOO_LARGE. Default 200,000,000. */
  maxLineBytes?: number;
  /** What to do with a line that is not JSON (INVALID_JSON). Default `'error'`. */
  onInvalid?: InvalidPolicy;
  /** How many skipped lines keep their error in `stats.skippedErrors`. Default 1000. */
  maxReportedErrors?: number;
}

export interface ParseStats {
  /** Lines seen, blank ones included (objects count as one line each). */
  lines: number;
  blank: number;
  /** Values passed on. */
  values: number;
  skipped: number;
  skippedErrors: BatchlineError[];
  /** Input bytes read (0 for object input). */
  bytes: number;
}

/**
 * The parser without a stream around it: JSONL bytes → DecodedLine, or plain
 * objects → ObjectLine (numbered by position), each handed to `take`. One
 * parser takes bytes or objects, not both (MIXED_INPUT). A blank line is
 * counted and dropped; a line that is not JSON is INVALID_JSON, thrown or
 * skipped as `onInvalid` says.
 *
 * Backpressure is state kept here: when `take` returns false (its reader is
 * full), the parser stops after that line, holding the rest of the chunk, and
 * bytes() or object() return false. The caller then calls resume() once the
 * reader has room, until it returns true, before it gives the next chunk.
 *
 * A line is decoded before the next one is split, so no DecodedLine refers to
 * the chunk: once bytes() (or the resume() after it) returns true, the caller
 * may reuse the chunk's buffer.
 */
export class LineParser {
  private readonly splitter: LineSplitter;
  private readonly skipped: SkippedLines;
  private readonly take: (line: ParsedLine) => boolean;
  private mode: 'bytes' | 'objects' | undefined;
  private objectLine = 0;
  private inputBytes = 0;
  private blankLines = 0;
  private values = 0;

  constructor(options: LineParserOptions, take: (line: ParsedLine) => boolean) {
    const maxLineBytes = wholeNumberOption(options.maxLineBytes, 'maxLineBytes', DEFAULT_MAX_LINE_BYTES);
    this.skipped = new SkippedLines(checkInvalidPolicy(options.onInvalid), options.maxReportedErrors);
    this.splitter = new LineSplitter(maxLineBytes, (bytes, line) => this.onLine(bytes, line));
    this.take = take;
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

  /** A chunk of JSONL text, cut anywhere; false when `take` asked to stop. */
  bytes(chunk: Buffer): boolean {
    this.setMode('bytes');
    this.inputBytes += chunk.length;
    return this.splitter.push(chunk);
  }

  /** One value as it is (a row, a message); false when `take` asked to stop. */
  object(value: unknown): boolean {
    this.setMode('objects');
    this.values++;
    return this.take(new ObjectLine(++this.objectLine, value));
  }

  /** Goes on after a stop; true once the chunk it stopped in is used up. */
  resume(): boolean {
    return this.splitter.resume();
  }

  /** Parses a last line that has no line break after it. */
  end(): void {
    this.splitter.end();
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
    if (!this.take(parsed)) this.splitter.pause();
  }
}
