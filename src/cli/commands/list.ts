/** `batchline list`: the account's batches, newest first, one JSON object a line. */
import { listBatches } from '../../openai/batches.ts';
import type { Command } from '../command.ts';
import { intFlag, parseCommandArgs } from '../flags.ts';
import { API_FLAGS, METADATA_FLAG, apiClient, metadataPairs, writeJson } from '../api-flags.ts';

const flags = {
  limit: { type: 'string', value: 'N', help: 'print at most N batches (default 20)' },
  after: { type: 'string', value: 'ID', help: 'start after this batch id (the cursor of the previous page)' },
  metadata: { ...METADATA_FLAG, help: 'keep only batches holding this metadata pair (repeatable; filtered here,\nas the API cannot), e.g. --metadata batchline_run=run_…' },
  ...API_FLAGS,
} as const;

export const listCommand: Command = {
  description: 'List batches, newest first, as JSON lines on stdout, reading the API page by page as it prints.',
  usage: 'batchline list [--limit N] [--after ID] [--metadata KEY=VALUE]... [--base-url URL]',
  flags,
  async run(args, io) {
    const { values } = parseCommandArgs('list', args, flags, { min: 0, max: 0, what: 'no arguments' });
    const batches = listBatches(apiClient(values, io), {
      limit: intFlag(values.limit, 'limit', 1) ?? 20,
      after: values.after,
      metadata: metadataPairs(values.metadata),
      signal: io.signal,
    });
    for await (const batch of batches) await writeJson(io, batch);
    return 0;
  },
};
