/** `batchline cancel <batch-id>`: ask the API to stop a batch; its partial results stay downloadable. */
import { cancelBatch } from '../../openai/batches.ts';
import type { Command } from '../command.ts';
import { parseCommandArgs } from '../flags.ts';
import { API_FLAGS, apiClient, writeJson } from '../api-flags.ts';

const flags = { ...API_FLAGS };

export const cancelCommand: Command = {
  description:
    'Cancel a batch: it goes to cancelling, then cancelled, keeping the results of the requests that finished.\n' +
    'Prints the batch object as JSON. Cancelling a batch already cancelling or cancelled is not an error.',
  usage: 'batchline cancel <batch-id> [--base-url URL] [--max-attempts N] [--timeout-ms MS]',
  flags,
  notes: 'Exit 1 with BATCH_NOT_CANCELLABLE when the batch already ended completed, failed or expired.',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('cancel', args, flags, { min: 1, max: 1, what: 'one batch id' });
    await writeJson(io, await cancelBatch(apiClient(values, io), positionals[0], { signal: io.signal }));
    return 0;
  },
};
