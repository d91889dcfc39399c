/** `batchline status <batch-id>`: the batch object, once; `--state-dir DIR`: a whole run's progress. */
import { retrieveBatch } from '../../openai/batches.ts';
import { runStatus } from '../../run/control.ts';
import type { Command } from '../command.ts';
import { API_FLAGS, apiClient, batchOrRun, writeJson } from '../api-flags.ts';
import { statusLine } from '../run-report.ts';

const flags = {
  'state-dir': { type: 'string', value: 'DIR', help: "a run's state dir (batchline run): print the run's progress instead of one batch" },
  ...API_FLAGS,
} as const;

export const statusCommand: Command = {
  description:
    'Print a batch as the API has it now: one JSON object on stdout (status, request_counts, file ids …).\n' +
    "With --state-dir, a run's progress as its journal records it: one JSON object on stdout (its batches,\n" +
    'counts, whether a process runs it now) and a one-line summary on stderr; no API call.',
  usage: 'batchline status <batch-id> [--base-url URL] [--max-attempts N] [--timeout-ms MS]\n       batchline status --state-dir DIR',
  flags,
  notes: 'Absent output or error file ids are printed as null (the API may send "").',
  async run(args, io) {
    const target = await batchOrRun('status', args, flags);
    if ('stateDir' in target) {
      const status = await runStatus(target.stateDir);
      io.stderr.write(statusLine(status));
      await writeJson(io, status);
      return 0;
    }
    await writeJson(io, await retrieveBatch(apiClient(target.values, io), target.batchId, { signal: io.signal }));
    return 0;
  },
};
