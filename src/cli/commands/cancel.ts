/** `batchline cancel <batch-id>`: ask the API to stop a batch; `--state-dir DIR`: every batch of a run. */
import { cancelBatch } from '../../openai/batches.ts';
import { cancelRun } from '../../run/control.ts';
import type { Command } from '../command.ts';
import { parseCommandArgs } from '../flags.ts';
import { checkDirectory } from '../paths.ts';
import { API_FLAGS, apiClient, writeJson } from '../api-flags.ts';

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
    const stateDir = args.some((arg) => arg === '--state-dir' || arg.startsWith('--state-dir='));
    const { values, positionals } = parseCommandArgs('cancel', args, flags, stateDir ? { min: 0, max: 0, what: 'no batch id with --state-dir' } : { min: 1, max: 1, what: 'one batch id' });
    if (values['state-dir'] !== undefined) {
      await checkDirectory(values['state-dir'], '--state-dir', { mustExist: true });
      // A stopped remote run needs the API to reach its batches; a live or local one does not.
      const client = io.env.OPENAI_API_KEY ? apiClient(values, io) : undefined;
      await writeJson(io, await cancelRun(values['state-dir'], { client, signal: io.signal }));
      return 0;
    }
    await writeJson(io, await cancelBatch(apiClient(values, io), positionals[0], { signal: io.signal }));
    return 0;
  },
};
