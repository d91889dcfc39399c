import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { BatchlineError, OptionError } from '../errors.ts';
import type { RequestParser } from '../streams/parse.ts';
import type { RequestValidator } from '../streams/validate.ts';
import type { CommandIO } from './command.ts';

const READ_CHUNK_BYTES = 64 * 1024;

/** The input named on the command line: a file, or stdin for `-`. */
export async function openInput(path: string | undefined, io: CommandIO): Promise<Readable> {
  if (path === undefined) throw new OptionError('INVALID_OPTION', 'name an input file, or - for stdin');
  if (path === '-') return io.stdin;
  try {
    const file = await open(path, 'r');
    return file.createReadStream({ highWaterMark: READ_CHUNK_BYTES });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BatchlineError('INPUT_UNREADABLE', `cannot read ${path}${code ? ` (${code})` : ''}`, { cause: err });
  }
}

export interface RunTotals {
  parser: RequestParser;
  validator: RequestValidator;
  shards: number;
  started: number;
}

/** The closing line on stderr: what went in and what came out. */
export function summaryLine(command: string, totals: RunTotals): string {
  const parsed = totals.parser.stats;
  const validated = totals.validator.stats;
  const seconds = (performance.now() - totals.started) / 1000;
  return (
    `batchline ${command}: ${parsed.lines} lines, ${validated.requests} requests, ${totals.shards} shards, ` +
    `${parsed.skipped + validated.skipped} skipped, ${parsed.bytes} bytes, ${seconds.toFixed(2)} seconds\n`
  );
}

/** Writes one coded, located error line to stderr, as the CLI prints every error. */
export function reportInvalid(io: CommandIO, format: (err: unknown) => string): (err: BatchlineError) => void {
  return (err) => {
    io.stderr.write(`${format(err)}\n`);
  };
}
