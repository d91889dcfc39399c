import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { lineOutput } from '../core/lines.ts';
import { LimitError } from '../errors.ts';
import { ShardPlan } from '../core/shard-plan.ts';
import type { ValidRequest } from '../types.ts';
import { intOption, parseCommandArgs, type Command } from './command.ts';
import { formatError } from './main.ts';
import { parseInput, validatorFromFlags, reportInvalid, summaryLine } from './request-input.ts';

const options = {
  endpoint: { type: 'string' },
  'route-by-endpoint': { type: 'boolean' },
  'max-bytes': { type: 'string' },
  'max-requests': { type: 'string' },
  'max-open-shards': { type: 'string' },
  'max-line-bytes': { type: 'string' },
  'fail-fast': { type: 'boolean' },
} as const;

export const validateCommand: Command = {
  summary:
    'Check a JSONL request file against the Batch API rules without writing anything. Every bad line is\n' +
    'printed on stderr with its code and line number; the closing summary counts the shards it would make.',
  usage:
    'batchline validate <input.jsonl|-> [--endpoint URL] [--route-by-endpoint] [--max-bytes N]\n' +
    '                   [--max-requests N] [--max-open-shards N] [--max-line-bytes N] [--fail-fast]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, options);
    // The sharder's default maxOpenShards too: past it, interleaved routes make more shards.
    const plan = new ShardPlan({
      maxBytes: intOption(values['max-bytes'], 'max-bytes', 1),
      maxRequests: intOption(values['max-requests'], 'max-requests', 1),
      maxOpenShards: intOption(values['max-open-shards'], 'max-open-shards', 1),
    });
    const onInvalid = values['fail-fast'] ? 'error' : reportInvalid(io, formatError);
    const maxLineBytes = intOption(values['max-line-bytes'], 'max-line-bytes', 1);
    const validator = validatorFromFlags(values, onInvalid, io);
    // Made last: a file starts being read as soon as its parser exists, so every option is checked first.
    const parser = parseInput(positionals[0], io, { maxLineBytes, onInvalid, signal: io.signal });
    const totals = { parser, validator, shards: 0, skipped: 0, started: performance.now() };
    // The same plan the sharder follows, so the summary says how many files `shard` would write.
    const planner = new Writable({
      objectMode: true,
      write(request: ValidRequest, _encoding, callback) {
        try {
          const { line, value } = request;
          const placed = plan.place(value.url, value.body.model, lineOutput(request).size + 1, line, value.custom_id);
          if (placed.opened) totals.shards++;
          callback();
        } catch (err) {
          // A request too large for any shard is a bad line like the validator's: reported, counted, and
          // the check goes on, unless --fail-fast asked to stop at the first.
          if (typeof onInvalid === 'function' && err instanceof LimitError && err.code === 'REQUEST_TOO_LARGE') {
            onInvalid(err);
            totals.skipped++;
            callback();
            return;
          }
          callback(err as Error);
        }
      },
    });
    try {
      await pipeline(parser, validator, planner);
    } finally {
      io.stderr.write(summaryLine('validate', totals));
    }
    return parser.stats.skipped + validator.stats.skipped + totals.skipped === 0 ? 0 : 1;
  },
};
