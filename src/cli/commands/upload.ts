/** `batchline upload <file>...`: JSONL files onto the Files API (large ones in parts), one file id a line. */
import { describeFile } from '../../io/file-digest.ts';
import { uploadShards } from '../../streams/upload.ts';
import type { Command } from '../command.ts';
import { intFlag, parseCommandArgs } from '../flags.ts';
import { checkInputFile } from '../paths.ts';
import { API_FLAGS, apiClient, writeJson } from '../api-flags.ts';

const flags = {
  concurrency: { type: 'string', value: 'N', help: 'files uploaded at once (default 4)' },
  'multipart-threshold': { type: 'string', value: 'BYTES', help: 'files larger than this go up in parts through the Uploads API\n(default 33554432 = 32 MiB)' },
  'part-size': { type: 'string', value: 'BYTES', help: 'bytes per part, 4096 to 67108864 (default 16777216 = 16 MiB)' },
  'part-concurrency': { type: 'string', value: 'N', help: 'parts of one file in flight (default 4)' },
  json: { type: 'boolean', help: 'print each file as JSON {path, fileId, bytes, sha256} instead of its id' },
  ...API_FLAGS,
} as const;

export const uploadCommand: Command = {
  description:
    'Upload JSONL request files for batches (purpose "batch") and print one file id a line, in argument order.\n' +
    'Several files go at once; a file above the multipart threshold goes through the Uploads API in parts,\n' +
    'each retried on its own and checked by md5 at the end. Every file is read as a stream, never whole, and\n' +
    'its sha256 checked as it goes: a file that changes under the upload is SHARD_CHANGED.',
  usage: 'batchline upload <file.jsonl>... [--concurrency N] [--multipart-threshold BYTES] [--part-size BYTES]\n' +
    '                        [--part-concurrency N] [--json] [--base-url URL]',
  flags,
  notes: 'File names must end in .jsonl (the Batch API takes no other).',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('upload', args, flags, { min: 1, max: Infinity, what: 'one or more .jsonl files' });
    for (const path of positionals) await checkInputFile(path);
    const client = apiClient(values, io);
    const descriptors = (async function* () {
      for (const [index, path] of positionals.entries()) yield await describeFile(path, index, io.signal);
    })();
    const uploaded = uploadShards(descriptors, {
      client,
      concurrency: intFlag(values.concurrency, 'concurrency', 1),
      multipartThresholdBytes: intFlag(values['multipart-threshold'], 'multipart-threshold', 0),
      partSizeBytes: intFlag(values['part-size'], 'part-size', 1),
      partConcurrency: intFlag(values['part-concurrency'], 'part-concurrency', 1),
      signal: io.signal,
    });
    for await (const file of uploaded) {
      if (values.json) await writeJson(io, { path: file.path, fileId: file.fileId, bytes: file.bytes, sha256: file.sha256 });
      else io.stdout.write(`${file.fileId}\n`);
    }
    return 0;
  },
};
