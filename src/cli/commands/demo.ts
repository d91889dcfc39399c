import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { startEmulator } from '../../emulator/index.ts';
import { ApiClient } from '../../openai/client.ts';
import type { DownloadedBatch } from '../../openai/results.ts';
import { createParser } from '../../streams/parse.ts';
import { createValidator } from '../../streams/validate.ts';
import { createSharder } from '../../streams/shard.ts';
import { createUploader } from '../../streams/upload.ts';
import { createSubmitter } from '../../streams/submit.ts';
import { createPoller } from '../../streams/poll.ts';
import { createFileDownloader } from '../../streams/download.ts';
import { joinResults } from '../../streams/join.ts';
import { createJsonlSink } from '../../streams/sink.ts';
import type { BatchEndpoint, ResultStatus } from '../../types.ts';
import type { Command, CommandIO, FlagSpec } from '../command.ts';
import { intFlag, numberFlag, parseCommandArgs } from '../flags.ts';
import { checkDirectory } from '../paths.ts';

/** The three routes the demo input mixes, so the sharder has to keep them apart. */
const ROUTES: Array<{ url: BatchEndpoint; model: string; body: (i: number) => Record<string, unknown> }> = [
  {
    url: '/v1/chat/completions',
    model: 'gpt-4o-mini',
    body: (i) => ({ messages: [{ role: 'user', content: `Summarise ticket #${i} in one line.` }], max_tokens: 64 }),
  },
  {
    url: '/v1/chat/completions',
    model: 'gpt-4.1-mini',
    body: (i) => ({ messages: [{ role: 'user', content: `Translate product note ${i} to French: «très bien» ✓` }] }),
  },
  { url: '/v1/embeddings', model: 'text-embedding-3-small', body: (i) => ({ input: `catalogue entry ${i}` }) },
];

/** Writes the demo's input: `requests` lines across the routes, with a blank line and a CRLF for realism. */
export async function writeDemoInput(path: string, requests: number): Promise<void> {
  async function* lines() {
    for (let i = 1; i <= requests; i++) {
      const route = ROUTES[i % ROUTES.length];
      const request = { custom_id: `row-${i}`, method: 'POST', url: route.url, body: { model: route.model, ...route.body(i) } };
      yield JSON.stringify(request) + (i === 2 ? '\r\n' : '\n') + (i === 3 ? '\n' : '');
    }
  }
  await pipeline(Readable.from(lines()), createWriteStream(path));
}

async function removeOwnFiles(dir: string, name: RegExp): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => name.test(n)).map((n) => rm(join(dir, n), { force: true })));
}

function log(io: CommandIO, line: string): void {
  io.stderr.write(`${line}\n`);
}

/**
 * The whole trip against the embedded emulator, through the stages:
 * generate → parse → validate → shard → upload → submit → poll → download,
 * overlapped (a shard goes up as soon as it is written, every batch is
 * watched at once, a batch's files come down as soon as it ends), then join.
 */
export async function runDemo(
  options: { requests: number; maxRequests: number; errorRate: number; faultRate: number; outDir: string; batchDurationMs: number },
  io: CommandIO,
): Promise<Record<ResultStatus, number>> {
  const started = Date.now();
  const { signal } = io;
  await mkdir(options.outDir, { recursive: true });
  // The demo's own files from an earlier run in the same directory go (and nothing else): shards never mix across runs.
  await removeOwnFiles(join(options.outDir, 'shards'), /^shard-\d{5}\.jsonl$/);
  await removeOwnFiles(join(options.outDir, 'results'), /^batch_[0-9a-f]+_(output|error)\.jsonl$/);
  const inputPath = join(options.outDir, 'input.jsonl');
  await writeDemoInput(inputPath, options.requests);
  log(io, `wrote ${options.requests} requests across ${ROUTES.length} endpoint/model routes to ${inputPath}`);

  const emulator = await startEmulator({ batchDurationMs: options.batchDurationMs, errorRate: options.errorRate, faultRate: options.faultRate, seed: 7 });
  try {
    log(io, `emulator listening on ${emulator.url}/v1, failing ${Math.round(options.faultRate * 100)} % of API requests on purpose`);
    let retries = 0;
    const client = new ApiClient({ baseURL: `${emulator.url}/v1`, apiKey: 'demo-key-not-secret', retry: { baseDelayMs: 20 }, onRetry: () => void retries++ });
    const submitter = createSubmitter({ client, signal });
    const downloaded: DownloadedBatch[] = [];
    await pipeline(
      createReadStream(inputPath),
      createParser({ signal }),
      createValidator({ routeByEndpoint: true, signal }),
      createSharder({ dir: join(options.outDir, 'shards'), maxRequests: options.maxRequests, signal }),
      createUploader({ client, signal }),
      submitter,
      createPoller({
        client,
        initialDelayMs: 100,
        maxDelayMs: 1000,
        maxRequestsPerSecond: 50,
        signal,
        onProgress: (event) => event.statusChanged && log(io, `batch ${event.shard} ${event.batchId}: ${event.status}`),
      }),
      createFileDownloader({ client, outDir: join(options.outDir, 'results'), signal }),
      new Writable({
        objectMode: true,
        write(batch: DownloadedBatch, _enc, done) {
          downloaded.push(batch);
          const { completed, failed } = batch.batch.request_counts;
          log(io, `batch ${batch.shard} downloaded: ${completed} completed, ${failed} failed`);
          done();
        },
      }),
      { signal },
    );
    const resultFiles = downloaded.flatMap((batch) => [batch.output, batch.error]).flatMap((file) => (file ? [file.path] : []));
    log(io, `${downloaded.length} batches (run ${submitter.runId}), ${resultFiles.length} result files in shuffled order, ${retries} API calls retried`);

    const outputPath = join(options.outDir, 'joined.jsonl');
    const joined = joinResults({ input: inputPath, results: resultFiles, signal });
    await pipeline(Readable.from(joined), createJsonlSink(outputPath, { signal }));
    const { stats } = joined;
    const statuses: Record<ResultStatus, number> = {
      succeeded: stats.succeeded,
      rejected: stats.rejected,
      failed: stats.failed,
      expired: stats.expired,
      cancelled: stats.cancelled,
      missing: stats.missing,
    };

    const first = (await readFile(outputPath, 'utf8')).split('\n', 1)[0];
    io.stdout.write(
      [
        `joined ${stats.requests} results in input order → ${outputPath}`,
        `statuses: ${Object.entries(statuses).map(([status, n]) => `${status} ${n}`).join(', ')}`,
        `first result: ${first.length > 240 ? first.slice(0, 240) + '…' : first}`,
        `done in ${((Date.now() - started) / 1000).toFixed(1)} s`,
        '',
      ].join('\n'),
    );
    return statuses;
  } finally {
    await emulator.close();
  }
}

const flags = {
  requests: { type: 'string', value: 'N', help: 'how many requests to generate, across three endpoint/model routes (default 3000)' },
  'max-requests': { type: 'string', value: 'N', help: 'most requests per shard, so the run makes several batches (default 400)' },
  'error-rate': { type: 'string', value: 'R', help: "share of requests the emulator answers with a 4xx error, 0 … 1 (default 0.02)" },
  'fault-rate': { type: 'string', value: 'R', help: 'share of API requests the emulator fails on purpose (429, 5xx, resets, cut-off\nreplies), retried by the client, 0 … 1 (default 0.05)' },
  'batch-duration-ms': { type: 'string', value: 'N', help: 'how long each batch runs in the emulator (default 1500)' },
  'out-dir': {
    type: 'string',
    value: 'DIR',
    help: 'where the input, shards, results and joined.jsonl go (default: a new temp dir);\nthe files of an earlier demo run there are replaced, others left alone',
  },
} as const satisfies Record<string, FlagSpec>;

export const demoCommand: Command = {
  description:
    'Run a batch end to end against the embedded emulator, offline: generate requests, shard, upload,\n' +
    'submit, poll, download and join them; prints where the joined results are and their statuses.',
  usage: 'batchline demo [--requests N] [--max-requests N] [--error-rate R] [--fault-rate R] [--batch-duration-ms N] [--out-dir DIR]',
  flags,
  notes: 'Exit 0 when every request has its result, 1 otherwise. Progress goes to stderr.',
  async run(args, io) {
    const { values } = parseCommandArgs('demo', args, flags, { min: 0, max: 0, what: 'no arguments, only flags' });
    const options = {
      requests: intFlag(values.requests, 'requests', 1) ?? 3000,
      maxRequests: intFlag(values['max-requests'], 'max-requests', 1) ?? 400,
      errorRate: numberFlag(values['error-rate'], 'error-rate', 0, 1) ?? 0.02,
      faultRate: numberFlag(values['fault-rate'], 'fault-rate', 0, 1) ?? 0.05,
      batchDurationMs: intFlag(values['batch-duration-ms'], 'batch-duration-ms', 0) ?? 1500,
    };
    if (values['out-dir'] !== undefined) await checkDirectory(values['out-dir'], '--out-dir');
    const outDir = values['out-dir'] ?? (await mkdtemp(join(tmpdir(), 'batchline-demo-')));
    const statuses = await runDemo({ ...options, outDir }, io);
    return statuses.missing === 0 ? 0 : 1;
  },
};
