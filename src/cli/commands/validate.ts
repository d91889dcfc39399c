/** `batchline validate`: checks a request file against the Batch API rules, writing nothing. */
import { Writable } from 'node:stream';
import { placeRequest, ShardPlan } from '../../core/shard-plan.ts';
import { LimitError } from '../../errors.ts';
import type { ValidRequest } from '../../types.ts';
import type { Command, FlagSpec } from '../command.ts';
import { intFlag, onInvalidFlag, parseCommandArgs } from '../flags.ts';
import { checkInputFile } from '../paths.ts';
import { createReport, prepare } from '../report.ts';
import { INPUT_ARGUMENT, REQUEST_FLAGS, openInput, runRequests, validatorFromFlags, type RequestRun } from '../request-input.ts';

const flags = {
  ...REQUEST_FLAGS,
  'on-invalid': {
    type: 'string',
    value: 'error|skip',
    help: 'error (the default): stop at the first bad line; skip: report every bad line\nand check on (the exit code is 1 all the same)',
  },
  json: { type: 'boolean', help: 'print each error and then the summary as JSON lines on stdout' },
} as const satisfies Record<string, FlagSpec>;

export const validateCommand: Command = {
  description:
    'Check a JSONL request file against the Batch API rules without writing anything: JSON, custom_id\n' +
    '(unique in the whole file), method, url, body, one endpoint, the per-file limits. A bad line is\n' +
    'reported with its code and line number; the closing summary counts the shard files `shard` would\n' +
    'write with the same flags.',
  usage: 'batchline validate <input.jsonl|-> [--on-invalid error|skip] [--json] [--endpoint URL] [--route-by-endpoint]\n' +
    '                          [--max-bytes N] [--max-requests N] [--max-open-shards N] [--max-line-bytes N]',
  flags,
  notes:
    'Exit 0 when every line is a valid request (and there is at least one), 1 otherwise. Errors and the\n' +
    'summary go to stderr; with --json, to stdout as {"type":"error",…} lines and one {"type":"summary",…}.',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('validate', args, flags, INPUT_ARGUMENT);
    const report = createReport(io, 'validate', { json: values.json === true, dataOnStdout: false });
    const run = await prepare(report, async (): Promise<RequestRun> => {
      const policy = onInvalidFlag(values['on-invalid']);
      // The sharder's plan with the sharder's defaults, so the summary says how many files `shard` would write.
      const plan = new ShardPlan({
        maxBytes: intFlag(values['max-bytes'], 'max-bytes', 1),
        maxRequests: intFlag(values['max-requests'], 'max-requests', 1),
        maxOpenShards: intFlag(values['max-open-shards'], 'max-open-shards', 1),
      });
      const maxLineBytes = intFlag(values['max-line-bytes'], 'max-line-bytes', 1);
      const onInvalid = policy === 'skip' ? (err: unknown) => report.error(err) : 'error';
      const validator = validatorFromFlags(values, onInvalid, io);
      await checkInputFile(positionals[0]);

      const counts = { requests: 0, shards: 0, skipped: 0 };
      const planner = new Writable({
        objectMode: true,
        write(request: ValidRequest, _encoding, callback) {
          try {
            const placed = placeRequest(plan, request);
            if (placed.opened) counts.shards++;
            counts.requests++;
            callback();
          } catch (err) {
            // A request too large for any shard is a bad line like the validator's: skipped and reported
            // under --on-invalid skip, the end of the run otherwise.
            if (policy === 'skip' && err instanceof LimitError && (err.code === 'REQUEST_TOO_LARGE' || err.code === 'TOO_MANY_EMBEDDING_INPUTS')) {
              report.error(err);
              counts.skipped++;
              callback();
              return;
            }
            callback(err as Error);
          }
        },
      });
      return {
        command: 'validate',
        io,
        report,
        input: openInput(positionals[0], io, { maxLineBytes, onInvalid, signal: io.signal }),
        validator,
        after: [planner],
        counts: () => counts,
        skippedFails: true,
      };
    });
    return run ? runRequests(run) : 1;
  },
};
