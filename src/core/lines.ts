/**
 * The names this module held before it was split into line-splitter.ts,
 * parsed-line.ts and line-output.ts, kept for the modules that still name it
 * (the join engine and its benchmark, the CLI's validate command). Nothing
 * new should name this file.
 */
import { LineSplitter as Splitter } from './line-splitter.ts';

export { DEFAULT_MAX_LINE_BYTES, isBlank } from './line-splitter.ts';
export { lineOutput } from './line-output.ts';

/**
 * @deprecated take LineSplitter from line-splitter.ts. A line spanning
 * chunks is always assembled in a reused buffer now, so `reuseCarry` no
 * longer chooses anything.
 */
export class LineSplitter extends Splitter {
  constructor(maxLineBytes: number, onLine: (bytes: Buffer, line: number) => void, _options?: { reuseCarry?: boolean }) {
    super(maxLineBytes, onLine);
  }
}
