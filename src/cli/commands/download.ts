/** `batchline download <batch-id>`: a batch's output and error files, written atomically. */
import { downloadBatchFiles } from '../../openai/results.ts';
import type { Command } from '../command.ts';
import { parseCommandArgs } from '../flags.ts';
import { checkDirectory } from '../paths.ts';
import { API_FLAGS, apiClient, writeJson } from '../api-flags.ts';

const flags = {
  'out-dir': { type: 'string', value: 'DIR', help: 'where the files go, made when missing (default: the current directory)' },
  json: { type: 'boolean', help: 'print {batch, output, error} as JSON ({fileId, path, bytes} or null each)' },
  ...API_FLAGS,
} as const;

export const downloadCommand: Command = {
  description:
    'Download an ended batch\'s output and error files as <batch-id>_output.jsonl and <batch-id>_error.jsonl,\n' +
    'each written aside, synced and renamed into place (a half file never stands under its name). A body\n' +
    'that stalls, resets or ends short is read again from where it stopped. Prints the paths written.',
  usage: 'batchline download <batch-id> [--out-dir DIR] [--json] [--base-url URL]',
  flags,
  notes: 'A file the batch does not have (no errors, or nothing succeeded) is not written. Exit 1 with\nBATCH_NOT_FINISHED for a batch still running.',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('download', args, flags, { min: 1, max: 1, what: 'one batch id' });
    const outDir = values['out-dir'] ?? '.';
    await checkDirectory(outDir, '--out-dir', { mustExist: false });
    const client = apiClient(values, io);
    const downloaded = await downloadBatchFiles(client, positionals[0], outDir, { signal: io.signal });
    if (values.json) await writeJson(io, { batch: downloaded.batch.id, output: downloaded.output, error: downloaded.error });
    else for (const file of [downloaded.output, downloaded.error]) if (file) io.stdout.write(`${file.path}\n`);
    return 0;
  },
};
