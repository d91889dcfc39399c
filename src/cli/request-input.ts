import { OptionError, type BatchlineError } from '../errors.ts';
import { parseFile, parseSource, type ParserOptions, type RequestParser } from '../streams/parse.ts';
import { createValidator, type RequestValidator } from '../streams/validate.ts';
import type { InvalidPolicy } from '../core/invalid-policy.ts';
import type { BatchEndpoint } from '../types.ts';
import type { CommandIO } from './command.ts';

/**
 * A parser on the input named on the command line: a file, read through
 * reused buffers (parseFile), or stdin for `-`. An unreadable file fails the
 * pipeline with INPUT_UNREADABLE.
 */
export function parseInput(path: string | undefined, io: CommandIO, options: ParserOptions): RequestParser {
  if (path === undefined) throw new OptionError('INVALID_OPTION', 'name an input file, or - for stdin');
  return path === '-' ? parseSource(io.stdin, options) : parseFile(path, options);
}

/** The validator `validate` and `shard` share, from their `--endpoint` and `--route-by-endpoint` flags. */
export function validatorFromFlags(
  flags: { endpoint?: string | undefined; 'route-by-endpoint'?: boolean | undefined },
  onInvalid: InvalidPolicy,
  io: CommandIO,
): RequestValidator {
  return createValidator({
    endpoint: flags.endpoint as BatchEndpoint | undefined,
    routeByEndpoint: flags['route-by-endpoint'],
    onInvalid,
    signal: io.signal,
  });
}

export interface RunTotals {
  parser: RequestParser;
  validator: RequestValidator;
  shards: number;
  /** Valid requests skipped after the validator (too large for a shard), when the command reports them. */
  skipped?: number;
  started: number;
}

/** The closing line on stderr: what went in and what came out. */
export function summaryLine(command: string, totals: RunTotals): string {
  const parsed = totals.parser.stats;
  const validated = totals.validator.stats;
  const later = totals.skipped ?? 0;
  const seconds = (performance.now() - totals.started) / 1000;
  return (
    `batchline ${command}: ${parsed.lines} lines, ${validated.requests - later} requests, ${totals.shards} shards, ` +
    `${parsed.skipped + validated.skipped + later} skipped, ${parsed.bytes} bytes, ${seconds.toFixed(2)} seconds\n`
  );
}

/** Writes one coded, located error line to stderr, as the CLI prints every error. */
export function reportInvalid(io: CommandIO, format: (err: unknown) => string): (err: BatchlineError) => void {
  return (err) => {
    io.stderr.write(`${format(err)}\n`);
  };
}
