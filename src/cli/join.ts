import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BatchlineError, OptionError } from '../errors.ts';
import { joinResults, type JoinStats } from '../streams/join.ts';
import { createJsonlSink } from '../streams/sink.ts';
import type { JoinedResult, ResultStatus } from '../types.ts';
import { intOption, parseCommandArgs, type Command, type CommandIO } from './command.ts';
import { formatError } from './main.ts';

const options = {
  output: { type: 'string', short: 'o' },
  'include-request': { type: 'boolean' },
  lenient: { type: 'boolean' },
  'temp-dir': { type: 'string' },
  'max-line-bytes': { type: 'string' },
  'max-partition-bytes': { type: 'string' },
} as const;

const STATUSES: ResultStatus[] = ['succeeded', 'failed', 'rejected', 'expired', 'cancelled', 'missing'];

function summary(stats: JoinStats, seconds: number): string {
  const counts = STATUSES.map((status) => `${stats[status]} ${status}`).join(', ');
  return (
    `batchline join: ${stats.requests} requests: ${counts}; ${stats.resultLines} result lines ` +
    `(${stats.duplicates} duplicate, ${stats.unknown} unknown, ${stats.conflicting} conflicting), ${seconds.toFixed(2)} seconds\n`
  );
}

export const joinCommand: Command = {
  summary:
    'Join Batch API output and error files back to their input: one JSON line per input request, in input\n' +
    'order, with status succeeded|failed|rejected|expired|cancelled|missing. Memory stays bounded (results\n' +
    'are spilled to a temp directory, removed afterwards). Exit 1 when any request has no result.\n' +
    '  -o, --output FILE      write here (written aside, renamed into place when complete); - or absent: stdout\n' +
    '  --include-request      add the original request to each line as "request"\n' +
    '  --lenient              report unknown custom_ids and conflicting duplicates on stderr and go on\n' +
    '  --temp-dir DIR         where the spill files go (default: the system temp dir)\n' +
    '  --max-line-bytes N     longest input or result line\n' +
    '  --max-partition-bytes N  most result bytes held in memory at once',
  usage:
    'batchline join <input.jsonl|-> <result.jsonl>... [-o joined.jsonl] [--include-request] [--lenient]\n' +
    '               [--temp-dir DIR] [--max-line-bytes N] [--max-partition-bytes N]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, options);
    const [input, ...results] = positionals;
    if (input === undefined) throw new OptionError('INVALID_OPTION', 'name the input file (or - for stdin) and the result files');
    if (positionals.filter((path) => path === '-').length > 1) {
      throw new OptionError('INVALID_OPTION', 'stdin (-) can stand for one file only');
    }
    const fromStdin = (path: string) => (path === '-' ? (io.stdin as AsyncIterable<Buffer>) : path);
    const joined = joinResults({
      input: fromStdin(input),
      results: results.map(fromStdin),
      includeRequest: values['include-request'],
      onIssue: values.lenient ? (issue) => void io.stderr.write(`${formatError(issue)}\n`) : undefined,
      tempDir: values['temp-dir'],
      maxLineBytes: intOption(values['max-line-bytes'], 'max-line-bytes', 1),
      maxPartitionBytes: intOption(values['max-partition-bytes'], 'max-partition-bytes', 1024),
      signal: io.signal,
    });
    const started = performance.now();
    let firstMissing: JoinedResult | undefined;
    async function* watched(): AsyncGenerator<JoinedResult> {
      for await (const result of joined) {
        if (result.status === 'missing' && !firstMissing) firstMissing = result;
        yield result;
      }
    }
    try {
      await writeResults(Readable.from(watched()), values.output, io);
    } finally {
      io.stderr.write(summary(joined.stats, (performance.now() - started) / 1000));
    }
    if (firstMissing) {
      const err = new BatchlineError(
        'MISSING_RESULTS',
        `${joined.stats.missing} input request(s) have no result line`,
        { line: firstMissing.line, customId: firstMissing.custom_id },
      );
      io.stderr.write(`${formatError(err)}\n`);
      return 1;
    }
    return 0;
  },
};

/** Streams results to stdout, or to a file that appears only once complete (the sink writes aside and renames). */
async function writeResults(results: Readable, output: string | undefined, io: CommandIO): Promise<void> {
  const target = output === undefined || output === '-' ? io.stdout : output;
  // The signal goes to the sink (the join has it too): once the finished file is being renamed into place, a late Ctrl-C no longer undoes it.
  await pipeline(results, createJsonlSink(target, { signal: io.signal }));
}
