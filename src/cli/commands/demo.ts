import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { runBatch } from '../../run/run.ts';
import type { RunSummary } from '../../run/summary.ts';
import type { Command, CommandIO, FlagSpec } from '../command.ts';
import { intFlag, numberFlag, parseCommandArgs } from '../flags.ts';
import { checkDirectory } from '../paths.ts';
import { createRunProgressDisplay } from '../progress.ts';
import { runReport } from '../run-report.ts';

/** The two chat models the demo input alternates, so the sharder keeps them apart. */
const MODELS: Array<{ model: string; body: (i: number) => Record<string, unknown> }> = [
  { model: 'gpt-4o-mini', body: (i) => ({ messages: [{ role: 'user', content: `Summarise ticket #${i} in one line.` }], max_tokens: 64 }) },
  {
    model: 'gpt-4.1-mini',
    body: (i) => ({
      messages: [
        { role: 'system', content: 'You translate product notes.' },
        { role: 'user', content: `Translate product note ${i} to French: «très bien» ✓` },
      ],
    }),
  },
];

/** Writes the demo's input: `requests` chat requests across the models, with a blank line and a CRLF for realism. */
export async function writeDemoInput(path: string, requests: number): Promise<void> {
  async function* lines() {
    for (let i = 1; i <= requests; i++) {
      const route = MODELS[i % MODELS.length];
      const request = { custom_id: `row-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: route.model, ...route.body(i) } };
      yield JSON.stringify(request) + (i === 2 ? '\r\n' : '\n') + (i === 3 ? '\n' : '');
    }
  }
  await pipeline(Readable.from(lines()), createWriteStream(path));
}

/**
 * The whole trip against the embedded emulator, through runBatch: generate
 * requests → validate → shard → upload → submit → poll → download → heal →
 * join, overlapped, with the emulator failing some API calls and some
 * requests on purpose, expiring one batch and refusing one on the token
 * limit — all healed — then the ordered results, the counts and the cost.
 */
export async function runDemo(
  options: { requests: number; maxRequests: number; errorRate: number; transientErrorRate: number; faultRate: number; outDir: string; batchDurationMs: number },
  io: CommandIO,
): Promise<RunSummary> {
  const { signal } = io;
  await mkdir(options.outDir, { recursive: true });
  // The demo's own state from an earlier run in the same directory goes (and nothing else): every demo starts afresh.
  const stateDir = join(options.outDir, 'state');
  await rm(stateDir, { recursive: true, force: true });
  const inputPath = join(options.outDir, 'input.jsonl');
  await writeDemoInput(inputPath, options.requests);
  const display = createRunProgressDisplay({ stream: io.stderr as NodeJS.WriteStream, intervalMs: 1000 });
  display.log(`batchline demo: ${options.requests} chat requests for ${MODELS.length} models in ${inputPath}`);
  display.log(
    `batchline demo: the embedded emulator fails ${Math.round(options.faultRate * 100)} % of API calls and ` +
      `${Math.round(options.transientErrorRate * 100)} % of requests (a 500, for a while), rejects ${Math.round(options.errorRate * 100)} % (a 400), ` +
      'expires the 2nd batch and refuses the 3rd on the token limit — all on purpose',
  );
  const outputPath = join(options.outDir, 'results.jsonl');
  let summary: RunSummary;
  try {
    summary = await runBatch({
      input: inputPath,
      output: outputPath,
      stateDir,
      local: {
        batchDurationMs: options.batchDurationMs,
        errorRate: options.errorRate,
        transientErrorRate: options.transientErrorRate,
        faultRate: options.faultRate,
        batchFaults: [
          { batch: 2, kind: 'expire' },
          { batch: 3, kind: 'token_limit_exceeded' },
        ],
        seed: 7,
      },
      maxRequests: options.maxRequests,
      // More tries than the default: the expired batch spends one, and the 500s are drawn afresh in each batch,
      // so a request failing on every one of six tries (0.02⁶) does not happen in a demo.
      maxAttempts: 6,
      // Enqueued tokens per model kept under a limit, as an account's are: about four batches of a model at once.
      tokenLimit: 100_000,
      tokenLimitRetryMs: 200,
      poll: { initialDelayMs: 100, maxDelayMs: 500, maxRequestsPerSecond: 50 },
      onProgress: (progress) => display.update(progress),
      onLog: (line) => display.log(`batchline demo: ${line}`),
      signal,
    });
  } finally {
    display.stop();
  }
  io.stderr.write(runReport(summary));
  const first = (await readFile(outputPath, 'utf8')).split('\n', 1)[0];
  io.stdout.write(
    [
      `${summary.requests} results in input order → ${outputPath}`,
      `statuses: ${Object.entries(summary.counts).map(([status, n]) => `${status} ${n}`).join(', ')}`,
      `first result: ${first.length > 240 ? first.slice(0, 240) + '…' : first}`,
      `done in ${(summary.durationMs / 1000).toFixed(1)} s`,
      '',
    ].join('\n'),
  );
  return summary;
}

const flags = {
  requests: { type: 'string', value: 'N', help: 'how many chat requests to generate, for two models (default 10000)' },
  'max-requests': { type: 'string', value: 'N', help: 'most requests per shard, so the run makes several batches (default 1000)' },
  'error-rate': { type: 'string', value: 'R', help: 'share of requests the emulator rejects with a 400, every time, 0 … 1 (default 0.01)' },
  'transient-error-rate': {
    type: 'string',
    value: 'R',
    help: 'share of requests the emulator fails with a 500 that clears on a later try, 0 … 1\n(default 0.02): healed in follow-up batches',
  },
  'fault-rate': { type: 'string', value: 'R', help: 'share of API calls the emulator fails on purpose (429, 5xx, resets, cut-off\nreplies), retried by the client, 0 … 1 (default 0.05)' },
  'batch-duration-ms': { type: 'string', value: 'N', help: 'how long each batch runs in the emulator (default 1500)' },
  'out-dir': {
    type: 'string',
    value: 'DIR',
    help: 'where the input, the run\'s state and results.jsonl go (default: a new temp dir);\nan earlier demo\'s state there is replaced, other files are left alone',
  },
} as const satisfies Record<string, FlagSpec>;

export const demoCommand: Command = {
  description:
    'Run a batch end to end against the embedded emulator, offline, through `batchline run`\'s engine: generate\n' +
    'chat requests, shard, upload, submit, poll, download, heal what failed and join; prints where the ordered\n' +
    'results are, their statuses, the tokens and the cost.',
  usage: 'batchline demo [--requests N] [--max-requests N] [--error-rate R] [--transient-error-rate R] [--fault-rate R]\n' +
    '       [--batch-duration-ms N] [--out-dir DIR]',
  flags,
  notes: 'Exit 0 when every request has its result, 1 otherwise. Progress goes to stderr.',
  async run(args, io) {
    const { values } = parseCommandArgs('demo', args, flags, { min: 0, max: 0, what: 'no arguments, only flags' });
    const options = {
      requests: intFlag(values.requests, 'requests', 1) ?? 10_000,
      maxRequests: intFlag(values['max-requests'], 'max-requests', 1) ?? 1000,
      errorRate: numberFlag(values['error-rate'], 'error-rate', 0, 1) ?? 0.01,
      transientErrorRate: numberFlag(values['transient-error-rate'], 'transient-error-rate', 0, 1) ?? 0.02,
      faultRate: numberFlag(values['fault-rate'], 'fault-rate', 0, 1) ?? 0.05,
      batchDurationMs: intFlag(values['batch-duration-ms'], 'batch-duration-ms', 0) ?? 1500,
    };
    if (values['out-dir'] !== undefined) await checkDirectory(values['out-dir'], '--out-dir');
    const outDir = values['out-dir'] ?? (await mkdtemp(join(tmpdir(), 'batchline-demo-')));
    const summary = await runDemo({ ...options, outDir }, io);
    return summary.counts.missing === 0 ? 0 : 1;
  },
};
