/** `batchline status <batch-id>`: the batch object, once. */
import { retrieveBatch } from '../../openai/batches.ts';
import type { Command } from '../command.ts';
import { parseCommandArgs } from '../flags.ts';
import { API_FLAGS, apiClient, writeJson } from '../api-flags.ts';

const flags = { ...API_FLAGS };

export const statusCommand: Command = {
  description: 'Print a batch as the API has it now: one JSON object on stdout (status, request_counts, file ids …).',
  usage: 'batchline status <batch-id> [--base-url URL] [--max-attempts N] [--timeout-ms MS]',
  flags,
  notes: 'Absent output or error file ids are printed as null (the API may send "").',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('status', args, flags, { min: 1, max: 1, what: 'one batch id' });
    await writeJson(io, await retrieveBatch(apiClient(values, io), positionals[0], { signal: io.signal }));
    return 0;
  },
};
