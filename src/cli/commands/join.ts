/** `batchline join`: one result line per input request, in input order. */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BatchlineError, invalidOption } from '../../errors.ts';
import { joinResults, type JoinStats } from '../../streams/join.ts';
import { createJsonlSink } from '../../streams/sink.ts';
import type { JoinedResult, ResultStatus } from '../../types.ts';
import { stoppedByClosedStdout, type Command, type FlagSpec } from '../command.ts';
import { intFlag, onInvalidFlag, parseCommandArgs } from '../flags.ts';
import { checkDirectory, checkInputFile, checkOutputFile } from '../paths.ts';
import { createReport, prepare, type Report } from '../report.ts';

const flags = {
  output: {
    type: 'string',
    short: 'o',
    value: 'FILE',
    help: 'write the results here, aside first and renamed into place once complete;\n- or absent: stdout',
  },
  'include-request': { type: 'boolean', help: 'add the original request to each result as "request"' },
  'on-invalid': {
    type: 'string',
    value: 'error|skip',
    help: 'error (the default): a result line for no input request (UNKNOWN_CUSTOM_ID) or a\n' +
      'second, different result for one (CONFLICTING_RESULT) stops the join; skip: report\n' +
      'it, keep the first result read, and go on',
  },
  json: { type: 'boolean', help: 'print errors and the summary as JSON lines: on stdout with -o FILE, else on stderr' },
  'temp-dir': { type: 'string', value: 'DIR', help: 'an existing directory for the spill files, removed afterwards (default: the system temp dir)' },
  'max-line-bytes': { type: 'string', value: 'N', help: 'longest input or result line (default 200000000)' },
  'max-partition-bytes': { type: 'string', value: 'N', help: 'most result bytes held in memory at once, ≥ 1024 (default 33554432)' },
} as const satisfies Record<string, FlagSpec>;

const STATUSES: ResultStatus[] = ['succeeded', 'failed', 'rejected', 'expired', 'cancelled', 'missing'];

export const joinCommand: Command = {
  description:
    'Join Batch API output and error files back to their input: one JSON line per input request, in input\n' +
    'order, {"custom_id", "line", "status", "response", "error"} with status succeeded, failed, rejected,\n' +
    'expired, cancelled or missing. Memory stays bounded: results are spilled to a temp directory.',
  usage: 'batchline join <input.jsonl|-> <result.jsonl>... [-o FILE|-] [--include-request] [--on-invalid error|skip]\n' +
    '                      [--json] [--temp-dir DIR] [--max-line-bytes N] [--max-partition-bytes N]',
  flags,
  notes:
    'Exit 0 when every request has its result, 1 otherwise (MISSING_RESULTS names the first request\n' +
    'without one; the results are written all the same). - stands for stdin in one place at most.',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('join', args, flags, {
      min: 2,
      max: Infinity,
      what: 'the input file (or - for stdin) and one or more result files',
    });
    const toStdout = values.output === undefined || values.output === '-';
    const report = createReport(io, 'join', { json: values.json === true, dataOnStdout: toStdout });
    const prepared = await prepare(report, async () => {
      const [input, ...results] = positionals;
      if (positionals.filter((path) => path === '-').length > 1) {
        throw invalidOption('arguments', 'stdin (-) can stand for one file only');
      }
      const skip = onInvalidFlag(values['on-invalid']) === 'skip';
      const fromStdin = (path: string) => (path === '-' ? (io.stdin as AsyncIterable<Buffer>) : path);
      const join = joinResults({
        input: fromStdin(input),
        results: results.map(fromStdin),
        includeRequest: values['include-request'],
        // Without a callback the join stops at an unknown or conflicting result, and counts duplicates quietly.
        onIssue: skip ? (issue) => report.error(issue) : undefined,
        tempDir: values['temp-dir'],
        maxLineBytes: intFlag(values['max-line-bytes'], 'max-line-bytes', 1),
        maxPartitionBytes: intFlag(values['max-partition-bytes'], 'max-partition-bytes', 1024),
        signal: io.signal,
      });
      for (const path of positionals) await checkInputFile(path);
      if (!toStdout) await checkOutputFile(values.output!, '-o');
      if (values['temp-dir'] !== undefined) await checkDirectory(values['temp-dir'], '--temp-dir', { mustExist: true });
      return join;
    });
    if (!prepared) return 1;
    const joined = prepared;

    const started = performance.now();
    let firstMissing: JoinedResult | undefined;
    async function* watched(): AsyncGenerator<JoinedResult> {
      for await (const result of joined) {
        if (result.status === 'missing' && !firstMissing) firstMissing = result;
        yield result;
      }
    }
    let failure: unknown;
    try {
      // The signal goes to the sink too: once the finished file is being renamed into place, a late Ctrl-C no longer undoes it.
      await pipeline(Readable.from(watched()), createJsonlSink(toStdout ? io.stdout : values.output!, { signal: io.signal }));
    } catch (err) {
      if (stoppedByClosedStdout(io)) throw err;
      failure = err;
    }
    if (failure === undefined && firstMissing) {
      failure = new BatchlineError('MISSING_RESULTS', `${joined.stats.missing} input request(s) have no result line`, {
        line: firstMissing.line,
        customId: firstMissing.custom_id,
      });
    }
    if (failure !== undefined) report.error(failure);
    summarise(report, joined.stats, failure, (performance.now() - started) / 1000);
    return failure === undefined ? 0 : 1;
  },
};

/**
 * The closing summary. The statuses count the results joined, so on a run
 * that stopped they add up to how far it got, not to the requests read.
 */
function summarise(report: Report, stats: JoinStats, failure: unknown, seconds: number): void {
  const joined = STATUSES.reduce((sum, status) => sum + stats[status], 0);
  const stopped = failure !== undefined && joined < stats.requests;
  const counts = STATUSES.map((status) => `${stats[status]} ${status}`).join(', ');
  report.summary(
    `${stopped ? `stopped after ${joined} of ${stats.requests} requests read` : `${stats.requests} requests`}: ${counts}; ` +
      `${stats.resultLines} result lines (${stats.duplicates} duplicate, ${stats.unknown} unknown, ${stats.conflicting} conflicting), ` +
      `${seconds.toFixed(2)} seconds`,
    {
      ok: failure === undefined,
      requests: stats.requests,
      joined,
      ...Object.fromEntries(STATUSES.map((status) => [status, stats[status]])),
      resultLines: stats.resultLines,
      duplicates: stats.duplicates,
      unknown: stats.unknown,
      conflicting: stats.conflicting,
      seconds: Number(seconds.toFixed(3)),
    },
  );
}
