/** `batchline wait <batch-id>`: poll until the batch ends, with progress on stderr. */
import { BatchFailedError } from '../../errors.ts';
import { waitForBatch, type PollProgress } from '../../openai/poll.ts';
import type { Command, CommandIO } from '../command.ts';
import { intFlag, parseCommandArgs } from '../flags.ts';
import { API_FLAGS, apiClient, writeJson } from '../api-flags.ts';

const flags = {
  'poll-ms': { type: 'string', value: 'MS', help: 'the first wait between polls, growing ×1.5 per poll (default 1000); a server\'s\nopenai-poll-after-ms hint is honoured when sent' },
  'max-poll-ms': { type: 'string', value: 'MS', help: 'the longest wait between polls (default 60000)' },
  ...API_FLAGS,
} as const;

function progressLine(event: PollProgress): string {
  const { total, completed, failed } = event.requestCounts;
  return `batchline wait: ${event.batchId} ${event.status}: ${completed + failed}/${total} requests done (${failed} failed)\n`;
}

export const waitCommand: Command = {
  description:
    'Wait for a batch to end: a progress line on stderr whenever its status or request counts change, then\n' +
    'the final batch object as JSON on stdout.',
  usage: 'batchline wait <batch-id> [--poll-ms MS] [--max-poll-ms MS] [--base-url URL]',
  flags,
  notes:
    'Exit 0 when the batch ends completed, expired or cancelled (the last two keep partial results: download\n' +
    'them); 1 when it ends failed (BATCH_FAILED, or TOKEN_LIMIT_EXCEEDED: submit it again later), after\n' +
    'printing the batch object all the same.',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('wait', args, flags, { min: 1, max: 1, what: 'one batch id' });
    const client = apiClient(values, io);
    try {
      await writeJson(io, await waitForBatch(client, positionals[0], {
        initialDelayMs: intFlag(values['poll-ms'], 'poll-ms', 1),
        maxDelayMs: intFlag(values['max-poll-ms'], 'max-poll-ms', 1),
        onProgress: (event) => report(io, event),
        signal: io.signal,
      }));
      return 0;
    } catch (err) {
      if (err instanceof BatchFailedError && err.batch) await writeJson(io, err.batch);
      throw err;
    }
  },
};

function report(io: CommandIO, event: PollProgress): void {
  if (event.statusChanged || event.countsChanged) io.stderr.write(progressLine(event));
}
