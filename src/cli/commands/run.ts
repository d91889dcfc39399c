/**
 * `batchline run`: the whole trip in one command (runBatch): requests in,
 * one result per request out in input order, progress on stderr, resumable
 * by running the same command again after a stop or a crash.
 */
import { AbortError } from '../../errors.ts';
import { runBatch, planRun } from '../../run/run.ts';
import type { RunOptions } from '../../run/options.ts';
import type { RunSummary } from '../../run/summary.ts';
import type { DryRunSummary } from '../../run/dry-run.ts';
import { SUPPORTED_ENDPOINTS, type BatchEndpoint } from '../../types.ts';
import { invalidOption } from '../../errors.ts';
import type { Command, CommandIO, FlagSpec } from '../command.ts';
import { intFlag, parseCommandArgs } from '../flags.ts';
import { checkInputFile, checkOutputFile } from '../paths.ts';
import { METADATA_FLAG, metadataPairs, writeJson } from '../api-flags.ts';
import { ApiClient } from '../../openai/client.ts';
import { OptionError } from '../../errors.ts';
import { createRunProgressDisplay } from '../progress.ts';
import { runReport, dryRunReport } from '../run-report.ts';
import { readPriceFile } from '../../io/price-file.ts';

const flags = {
  output: { type: 'string', short: 'o', value: 'FILE', help: 'write the results here, aside first and renamed into place once complete;\n- or absent: stdout' },
  local: { type: 'boolean', help: 'run against an emulator started in this process, its state kept in the state dir\n(offline, no key needed)' },
  'state-dir': {
    type: 'string',
    value: 'DIR',
    help: 'where the run keeps its journal, shards and result files (default: .batchline/runs/\n<input>-<hash of the input path and options>, so the same command resumes)',
  },
  endpoint: { type: 'string', value: 'URL', help: 'every request must use this endpoint (default: each endpoint gets shards of its own)' },
  metadata: METADATA_FLAG,
  'max-bytes': { type: 'string', value: 'N', help: 'most bytes per shard file (default 200000000)' },
  'max-requests': { type: 'string', value: 'N', help: 'most requests per shard file (default 50000)' },
  'max-attempts': { type: 'string', value: 'N', help: 'tries per request, the first included (default 3): failed, expired, cancelled and\nmissing requests go again in follow-up batches' },
  'retry-rejected': { type: 'boolean', help: 'send requests the model rejected (4xx) again too' },
  concurrency: { type: 'string', value: 'N', help: 'shards uploading at once (default 4)' },
  'token-limit': { type: 'string', value: 'N', help: 'enqueued input tokens allowed per model, as your account allows (default: no limit)' },
  prices: { type: 'string', value: 'FILE', help: 'a JSON price table over the built-in one (USD per 1M tokens, list prices; the Batch\nAPI discount is applied), for the cost estimate' },
  'dry-run': { type: 'boolean', help: 'validate, shard and estimate tokens without any upload' },
  'validate-first': {
    type: 'boolean',
    help: 'check every request before the first upload (default: shards go out as they are written,\nand a bad line late in the input stops the run after earlier batches were sent)',
  },
  json: { type: 'boolean', help: 'print the summary as one JSON object on stdout (needs -o FILE)' },
  'base-url': { type: 'string', value: 'URL', help: 'the API (default: OPENAI_BASE_URL, else the OpenAI API); the key is read from\nOPENAI_API_KEY only' },
  'timeout-ms': { type: 'string', value: 'MS', help: 'time limit of one API call attempt (default 600000)' },
} as const satisfies Record<string, FlagSpec>;

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function endpointFlag(text: string | undefined): BatchEndpoint | undefined {
  if (text === undefined) return undefined;
  if (!(SUPPORTED_ENDPOINTS as readonly string[]).includes(text)) {
    throw invalidOption('--endpoint', `--endpoint must be one of ${SUPPORTED_ENDPOINTS.join(', ')}, got ${JSON.stringify(text)}`);
  }
  return text as BatchEndpoint;
}

export const runCommand: Command = {
  description:
    'Run requests through the Batch API end to end: validate, shard, upload, submit, poll, download and join,\n' +
    'overlapped; failed, expired, cancelled and missing requests go again in follow-up batches. One result per\n' +
    'request, in input order. Stopped or killed, the same command resumes where the run stopped.',
  usage: 'batchline run <input.jsonl|-> [-o results.jsonl] [--local] [--state-dir DIR] [--endpoint URL] [--metadata k=v]...\n' +
    '       [--max-bytes N] [--max-requests N] [--max-attempts N] [--concurrency N] [--token-limit N] [--validate-first]\n' +
    '       [--dry-run] [--json]',
  flags,
  notes:
    'Progress goes to stderr (bars on a terminal, a line every few seconds otherwise), then the counts, the\n' +
    'tokens used and the result file. Exit 0 when every request has its result, 1 otherwise; 130/143 on\n' +
    'SIGINT/SIGTERM, with the run left resumable. `batchline status --state-dir DIR` shows a run;\n' +
    '`batchline cancel --state-dir DIR` cancels all its batches.',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('run', args, flags, { min: 1, max: 1, what: 'one input file (or - for stdin)' });
    const input = positionals[0];
    const toStdout = values.output === undefined || values.output === '-';
    if (values.json && toStdout && !values['dry-run']) throw invalidOption('--json', '--json prints the summary on stdout: give the results a file with -o');
    const options: RunOptions = {
      input: input === '-' ? io.stdin : input,
      output: toStdout ? io.stdout : values.output,
      local: values.local,
      stateDir: values['state-dir'],
      endpoint: endpointFlag(values.endpoint),
      metadata: metadataPairs(values.metadata),
      maxBytes: intFlag(values['max-bytes'], 'max-bytes', 1),
      maxRequests: intFlag(values['max-requests'], 'max-requests', 1),
      maxAttempts: intFlag(values['max-attempts'], 'max-attempts', 1),
      retryRejected: values['retry-rejected'],
      validateFirst: values['validate-first'],
      concurrency: intFlag(values.concurrency, 'concurrency', 1),
      tokenLimit: intFlag(values['token-limit'], 'token-limit', 1),
      signal: io.signal,
    };
    if (input !== '-') await checkInputFile(input);
    if (values.prices !== undefined) options.prices = await readPriceFile(values.prices);
    if (!toStdout) await checkOutputFile(values.output!, '-o');

    if (values['dry-run']) {
      const plan: DryRunSummary = await planRun(options);
      if (values.json) await writeJson(io, plan);
      else io.stderr.write(dryRunReport(plan));
      return 0;
    }
    if (!values.local) options.client = apiClientFor(values, io);
    const display = createRunProgressDisplay({ stream: io.stderr as NodeJS.WriteStream, intervalMs: 3000 });
    options.onProgress = (progress) => display.update(progress);
    const resume = `batchline run ${args.map(quote).join(' ')}`;
    options.onStart = ({ stateDir, resumed }) => {
      display.log(`batchline run: ${resumed ? 'resuming the run' : 'state'} in ${stateDir}`);
      display.log(`batchline run: stopped or killed, it resumes with: ${resume}${values['state-dir'] === undefined ? ` --state-dir ${quote(stateDir)}` : ''}`);
    };
    options.onLog = (line) => display.log(`batchline run: ${line}`);
    let summary: RunSummary;
    try {
      summary = await runBatch(options);
    } catch (err) {
      display.stop();
      if (err instanceof AbortError || io.signal?.aborted) io.stderr.write(`batchline run: stopped; the run is resumable: ${resume}\n`);
      throw err;
    }
    display.stop();
    io.stderr.write(runReport(summary));
    if (values.json) await writeJson(io, summary);
    return summary.counts.missing === 0 ? 0 : 1;
  },
};

function apiClientFor(values: { 'base-url'?: string | undefined; 'timeout-ms'?: string | undefined }, io: CommandIO): ApiClient {
  const apiKey = io.env.OPENAI_API_KEY;
  if (!apiKey) throw new OptionError('MISSING_API_KEY', 'no API key: set OPENAI_API_KEY, or run against the local emulator with --local', { option: 'OPENAI_API_KEY' });
  return new ApiClient({ apiKey, baseURL: values['base-url'] ?? io.env.OPENAI_BASE_URL, timeoutMs: intFlag(values['timeout-ms'], 'timeout-ms', 1) });
}
