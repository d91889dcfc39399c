/** What `validate` and `shard` share: their input, their validator, and the run with its closing report. */
import { pipeline } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { BatchlineError, ValidationError } from '../errors.ts';
import { parseFile, parseSource, type ParserOptions, type RequestParser } from '../streams/parse.ts';
import { createValidator, type RequestValidator } from '../streams/validate.ts';
import type { InvalidPolicy } from '../core/invalid-policy.ts';
import type { BatchEndpoint } from '../types.ts';
import { stoppedByClosedStdout, type CommandIO, type FlagSpec } from './command.ts';
import type { Positionals } from './flags.ts';
import { fileLineEnd, StdinLineEnds } from './line-end.ts';
import type { Report } from './report.ts';

export const INPUT_ARGUMENT: Positionals = { min: 1, max: 1, what: 'one input file (or - for stdin)' };

/** The flags both commands read requests with, explained once. */
export const REQUEST_FLAGS = {
  endpoint: { type: 'string', value: 'URL', help: "every request must use this endpoint (default: the first request's url)" },
  'route-by-endpoint': { type: 'boolean', help: 'allow several endpoints in one input; each gets shards of its own' },
  'max-bytes': { type: 'string', value: 'N', help: 'most bytes in one shard file, every \\n counted (default 200000000)' },
  'max-requests': { type: 'string', value: 'N', help: 'most requests in one shard file (default 50000)' },
  'max-open-shards': {
    type: 'string',
    value: 'N',
    help: 'shards filled at once, one per endpoint and model; past it the least recently\nused one is finished (default 16)',
  },
  'max-line-bytes': { type: 'string', value: 'N', help: 'longest input line; a longer one is LINE_TOO_LARGE (default 200000000)' },
} as const satisfies Record<string, FlagSpec>;

export interface RequestInput {
  parser: RequestParser;
  /** Bytes of the input up to the end of `line`: what a run that stopped there read. */
  lineEnd(line: number): Promise<number>;
}

/**
 * A parser on the input named on the command line: a file, read through
 * reused buffers (parseFile), or stdin for `-`. Made last, once every option
 * and path is checked: a file starts being read as soon as its parser exists.
 */
export function openInput(path: string, io: CommandIO, options: ParserOptions): RequestInput {
  if (path !== '-') return { parser: parseFile(path, options), lineEnd: (line) => fileLineEnd(path, line) };
  const ends = new StdinLineEnds();
  // An error of stdin reaches the parser through the tap; a failing parser destroys both.
  pipeline(io.stdin, ends, () => undefined);
  return { parser: parseSource(ends, options), lineEnd: async (line) => ends.lineEnd(line) };
}

/** The validator both commands use, from their `--endpoint` and `--route-by-endpoint` flags. */
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

export interface RequestRun {
  command: 'validate' | 'shard';
  io: CommandIO;
  report: Report;
  input: RequestInput;
  validator: RequestValidator;
  /** The stages after the validator. */
  after: NodeJS.WritableStream[];
  /** What the stages after the validator counted: requests taken, shards made, requests they skipped. */
  counts(): { requests: number; shards: number; skipped: number };
  /** Waits, after a failure, for the stages' clean-up. */
  settle?(): Promise<void>;
  /** Whether a skipped line fails the run (validate: the input is not clean). */
  skippedFails: boolean;
}

/**
 * Runs parse → validate → the rest, then reports: the error that stopped it
 * (when one did), then one summary counting only what was read: a run
 * stopped at line N counts N lines and the bytes up to its end. An input
 * without a request is EMPTY_INPUT: the Batch API refuses an empty file.
 * Resolves to the exit code.
 */
export async function runRequests(run: RequestRun): Promise<number> {
  const started = performance.now();
  const { parser } = run.input;
  let failure: unknown;
  try {
    const stages: Array<NodeJS.ReadableStream | NodeJS.WritableStream> = [parser, run.validator, ...run.after];
    await pipelineAsync(stages);
    if (run.counts().requests === 0) {
      const skipped = parser.stats.skipped + run.validator.stats.skipped + run.counts().skipped;
      throw new ValidationError(
        'EMPTY_INPUT',
        skipped > 0
          ? `no request is left once the ${skipped} bad line(s) are skipped; the Batch API refuses an empty file`
          : 'the input holds no request; the Batch API refuses an empty file',
      );
    }
  } catch (err) {
    failure = err;
    await run.settle?.();
  }
  if (failure !== undefined && stoppedByClosedStdout(run.io)) throw failure;
  if (failure !== undefined) run.report.error(failure);

  const seconds = Number(((performance.now() - started) / 1000).toFixed(3));
  const { requests, shards, skipped: skippedLater } = run.counts();
  const skipped = parser.stats.skipped + run.validator.stats.skipped + skippedLater;
  const stoppedAtLine = failure instanceof BatchlineError ? failure.line : undefined;
  const lines = stoppedAtLine ?? parser.stats.lines;
  const bytes = stoppedAtLine === undefined ? parser.stats.bytes : await run.input.lineEnd(stoppedAtLine).catch(() => parser.stats.bytes);
  const ok = failure === undefined && !(run.skippedFails && skipped > 0);
  run.report.summary(
    `${stoppedAtLine === undefined ? '' : `stopped at line ${stoppedAtLine}: `}${lines} lines, ${requests} requests, ` +
      `${shards} shards, ${skipped} skipped, ${bytes} bytes, ${seconds.toFixed(2)} seconds`,
    { ok, lines, requests, shards, skipped, bytes, seconds, ...(stoppedAtLine === undefined ? {} : { stoppedAtLine }) },
  );
  return ok ? 0 : 1;
}
