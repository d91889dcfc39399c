/** `batchline shard`: validates a request file and writes it as upload-ready shard files. */
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { invalidOption } from '../../errors.ts';
import { createSharder } from '../../streams/shard.ts';
import type { ShardDescriptor } from '../../types.ts';
import type { Command, FlagSpec } from '../command.ts';
import { intFlag, onInvalidFlag, parseCommandArgs } from '../flags.ts';
import { checkDirectory, checkInputFile, checkNoShards } from '../paths.ts';
import { createReport, prepare } from '../report.ts';
import { INPUT_ARGUMENT, REQUEST_FLAGS, openInput, runRequests, validatorFromFlags, type RequestRun } from '../request-input.ts';

const flags = {
  'out-dir': { type: 'string', value: 'DIR', help: 'where the shard files go (required; created when missing, must hold no shards yet)' },
  prefix: { type: 'string', value: 'NAME', help: 'shard files are NAME-00000.jsonl, NAME-00001.jsonl … (default shard)' },
  ...REQUEST_FLAGS,
  'on-invalid': {
    type: 'string',
    value: 'error|skip',
    help: 'error (the default): stop at the first bad line and remove the unfinished files;\nskip: report the bad line, leave it out and go on',
  },
  json: { type: 'boolean', help: 'print errors and the summary as JSON lines (on stderr: stdout has the descriptors)' },
} as const satisfies Record<string, FlagSpec>;

export const shardCommand: Command = {
  description:
    'Validate a JSONL request file and write it as upload-ready shard files: one endpoint and model each,\n' +
    'at most --max-bytes and --max-requests, requests in input order and byte for byte as read. Each file\n' +
    'is fsynced before its descriptor (path, bytes, requests, endpoint, model, lines, sha256, md5) is\n' +
    'printed on stdout as one JSON line.',
  usage: 'batchline shard <input.jsonl|-> --out-dir DIR [--prefix NAME] [--on-invalid error|skip] [--json]\n' +
    '                       [--endpoint URL] [--route-by-endpoint] [--max-bytes N] [--max-requests N]\n' +
    '                       [--max-open-shards N] [--max-line-bytes N]',
  flags,
  notes:
    'Exit 0 when every request is in a shard (bad lines skipped under --on-invalid skip), 1 otherwise;\n' +
    'on an error, Ctrl-C or a closed stdout the unfinished shard files are removed, finished ones stay.',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('shard', args, flags, INPUT_ARGUMENT);
    const report = createReport(io, 'shard', { json: values.json === true, dataOnStdout: true });
    const run = await prepare(report, async (): Promise<RequestRun> => {
      const dir = values['out-dir'];
      if (dir === undefined) throw invalidOption('--out-dir', '--out-dir is required');
      const policy = onInvalidFlag(values['on-invalid']);
      const maxLineBytes = intFlag(values['max-line-bytes'], 'max-line-bytes', 1);
      const onInvalid = policy === 'skip' ? (err: unknown) => report.error(err) : 'error';
      const validator = validatorFromFlags(values, onInvalid, io);
      const sharder = createSharder({
        dir,
        maxBytes: intFlag(values['max-bytes'], 'max-bytes', 1),
        maxRequests: intFlag(values['max-requests'], 'max-requests', 1),
        maxOpenShards: intFlag(values['max-open-shards'], 'max-open-shards', 1),
        prefix: values.prefix,
        signal: io.signal,
      });
      await checkInputFile(positionals[0]);
      await checkDirectory(dir, '--out-dir');
      await checkNoShards(dir, values.prefix ?? 'shard');

      // What the summary counts: the shards written and the requests in them (a stopped run removes unfinished ones).
      const written = { requests: 0, shards: 0, skipped: 0 };
      const printer = new Writable({
        objectMode: true,
        write(descriptor: ShardDescriptor, _encoding, callback) {
          written.shards++;
          written.requests += descriptor.requests;
          if (io.stdout.write(`${JSON.stringify(descriptor)}\n`)) callback();
          else io.stdout.once('drain', () => callback());
        },
      });
      return {
        command: 'shard',
        io,
        report,
        input: openInput(positionals[0], io, { maxLineBytes, onInvalid, signal: io.signal }),
        validator,
        after: [sharder, printer],
        counts: () => written,
        // The sharder removes its unfinished files before it closes.
        settle: async () => {
          if (!sharder.closed) await once(sharder, 'close');
        },
        skippedFails: false,
      };
    });
    return run ? runRequests(run) : 1;
  },
};
