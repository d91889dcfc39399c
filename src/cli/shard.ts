import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OptionError } from '../errors.ts';
import { createSharder } from '../streams/shard.ts';
import type { ShardDescriptor } from '../types.ts';
import { intOption, parseCommandArgs, type Command } from './command.ts';
import { formatError } from './main.ts';
import { parseInput, validatorFromFlags, reportInvalid, summaryLine } from './request-input.ts';

const options = {
  'out-dir': { type: 'string' },
  'max-bytes': { type: 'string' },
  'max-requests': { type: 'string' },
  'max-open-shards': { type: 'string' },
  'max-line-bytes': { type: 'string' },
  prefix: { type: 'string' },
  endpoint: { type: 'string' },
  'route-by-endpoint': { type: 'boolean' },
  'skip-invalid': { type: 'boolean' },
} as const;

export const shardCommand: Command = {
  summary:
    'Validate a JSONL request file and write it as upload-ready shard files (one endpoint and model each,\n' +
    'at most 200,000,000 bytes and 50,000 requests by default). Prints one JSON descriptor per shard on\n' +
    'stdout. The first bad line stops the run (unfinished files are removed) unless --skip-invalid.',
  usage:
    'batchline shard <input.jsonl|-> --out-dir DIR [--max-bytes N] [--max-requests N] [--max-open-shards N]\n' +
    '                [--max-line-bytes N] [--prefix NAME] [--endpoint URL] [--route-by-endpoint] [--skip-invalid]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, options);
    const dir = values['out-dir'];
    if (dir === undefined) throw new OptionError('INVALID_OPTION', '--out-dir is required');
    const onInvalid = values['skip-invalid'] ? reportInvalid(io, formatError) : 'error';
    const maxLineBytes = intOption(values['max-line-bytes'], 'max-line-bytes', 1);
    const validator = validatorFromFlags(values, onInvalid, io);
    const sharder = createSharder({
      dir,
      maxBytes: intOption(values['max-bytes'], 'max-bytes', 1),
      maxRequests: intOption(values['max-requests'], 'max-requests', 1),
      maxOpenShards: intOption(values['max-open-shards'], 'max-open-shards', 1),
      prefix: values.prefix,
      signal: io.signal,
    });
    // Made last: a file starts being read as soon as its parser exists, so every option is checked first.
    const parser = parseInput(positionals[0], io, { maxLineBytes, onInvalid, signal: io.signal });
    const totals = { parser, validator, shards: 0, started: performance.now() };
    const printer = new Writable({
      objectMode: true,
      write(descriptor: ShardDescriptor, _encoding, callback) {
        totals.shards++;
        if (io.stdout.write(`${JSON.stringify(descriptor)}\n`)) callback();
        else io.stdout.once('drain', () => callback());
      },
    });
    try {
      await pipeline(parser, validator, sharder, printer);
    } catch (err) {
      // The sharder removes its unfinished files before it closes.
      if (!sharder.closed) await once(sharder, 'close');
      throw err;
    } finally {
      io.stderr.write(summaryLine('shard', totals));
    }
    return 0;
  },
};
