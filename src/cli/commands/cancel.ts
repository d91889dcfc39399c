/** `batchline cancel <batch-id>`: ask the API to stop a batch; `--state-dir DIR`: every batch of a run. */
import { cancelBatch } from '../../openai/batches.ts';
import { cancelRun } from '../../run/control.ts';
import type { Command } from '../command.ts';
import { API_FLAGS, apiClient, batchOrRun, writeJson } from '../api-flags.ts';

const flags = {
  'state-dir': { type: 'string', value: 'DIR', help: "a run's state dir (batchline run): cancel every live batch of the run, and send no more" },
  ...API_FLAGS,
} as const;

export const cancelCommand: Command = {
  description:
    'Cancel a batch: it goes to cancelling, then cancelled, keeping the results of the requests that finished.\n' +
    'Prints the batch object as JSON. Cancelling a batch already cancelling or cancelled is not an error.\n' +
    'With --state-dir, cancel a whole run: the process running it (if any) sends nothing more, heals nothing\n' +
    'and cancels its live batches; with no process running it, they are cancelled from here. Prints\n' +
    '{runId, handedToLiveRun, cancelled: [batch ids]}.',
  usage: 'batchline cancel <batch-id> [--base-url URL] [--max-attempts N] [--timeout-ms MS]\n       batchline cancel --state-dir DIR [--base-url URL]',
  flags,
  notes: 'Exit 1 with BATCH_NOT_CANCELLABLE when the batch already ended completed, failed or expired.',
  async run(args, io) {
    const target = await batchOrRun('cancel', args, flags);
    if ('stateDir' in target) {
      // A stopped remote run needs the API to reach its batches; a live or local one does not.
      const client = io.env.OPENAI_API_KEY ? apiClient(target.values, io) : undefined;
      await writeJson(io, await cancelRun(target.stateDir, { client, signal: io.signal }));
      return 0;
    }
    await writeJson(io, await cancelBatch(apiClient(target.values, io), target.batchId, { signal: io.signal }));
    return 0;
  },
};
