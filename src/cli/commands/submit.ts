/** `batchline submit <file-id>`: one batch for an uploaded input file, tagged so a retry never makes two. */
import { submitBatch } from '../../openai/submit.ts';
import type { BatchEndpoint } from '../../types.ts';
import type { Command } from '../command.ts';
import { intFlag, parseCommandArgs } from '../flags.ts';
import { API_FLAGS, METADATA_FLAG, apiClient, metadataPairs, writeJson } from '../api-flags.ts';

const flags = {
  endpoint: { type: 'string', value: 'URL', help: 'the endpoint every request of the file calls (default /v1/chat/completions)' },
  metadata: METADATA_FLAG,
  'completion-window': { type: 'string', value: '24h', help: 'the completion window; the API has only 24h (the default)' },
  'output-expires-after': { type: 'string', value: 'SECONDS', help: 'the output and error files expire this long after the batch is made\n(3600 to 2592000; default: the API\'s)' },
  'run-id': { type: 'string', value: 'ID', help: 'the run id tagged on the batch (default: a new one); a retried create adopts the\nbatch carrying it instead of making a second' },
  json: { type: 'boolean', help: 'print the whole batch object as JSON instead of its id' },
  ...API_FLAGS,
} as const;

export const submitCommand: Command = {
  description:
    'Create a batch for an input file already on the API (see `batchline upload`) and print its id. The batch\n' +
    'carries batchline_run and batchline_file metadata tags: when a create\'s answer is lost, the retry finds\n' +
    'the batch it made instead of making a second one.',
  usage: 'batchline submit <file-id> [--endpoint URL] [--metadata KEY=VALUE]... [--completion-window 24h]\n' +
    '                        [--output-expires-after SECONDS] [--run-id ID] [--json] [--base-url URL]',
  flags,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('submit', args, flags, { min: 1, max: 1, what: 'one file id' });
    const submitted = await submitBatch(apiClient(values, io), positionals[0], {
      endpoint: (values.endpoint ?? '/v1/chat/completions') as BatchEndpoint,
      metadata: metadataPairs(values.metadata),
      completionWindow: values['completion-window'] as '24h' | undefined,
      outputExpiresAfter: intFlag(values['output-expires-after'], 'output-expires-after', 0),
      runId: values['run-id'],
      signal: io.signal,
    });
    if (values.json) await writeJson(io, submitted.batch);
    else io.stdout.write(`${submitted.batchId}\n`);
    return 0;
  },
};
