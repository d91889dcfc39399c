import { createReadStream, createWriteStream, openAsBlob } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import OpenAI, { toFile } from 'openai';
import { BatchFailedError } from '../../errors.ts';
import { startEmulator } from '../../emulator/index.ts';
import { createParser } from '../../streams/parse.ts';
import { createValidator } from '../../streams/validate.ts';
import { createSharder } from '../../streams/shard.ts';
import { joinResults } from '../../streams/join.ts';
import { createJsonlSink } from '../../streams/sink.ts';
import { TERMINAL_BATCH_STATUSES, type BatchEndpoint, type ResultStatus, type ShardDescriptor } from '../../types.ts';
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

/**
 * Upload → submit → poll → download for finished shards, with the official
 * SDK: one batch per shard, tagged with the run id and shard index. Returns
 * the downloaded output and error files. (The dedicated upload, submit, poll
 * and download stages will take this over, with retries and resume.)
 */
export async function runShardsOnApi(
  client: OpenAI,
  shards: readonly ShardDescriptor[],
  resultsDir: string,
  options: { runId: string; signal?: AbortSignal | undefined; log?: (line: string) => void; pollMs?: number },
): Promise<string[]> {
  const { signal } = options;
  const batches = await Promise.all(
    shards.map(async (shard) => {
      const file = await client.files.create(
        { file: await toFile(await openAsBlob(shard.path), basename(shard.path)), purpose: 'batch' },
        { signal },
      );
      return client.batches.create(
        {
          input_file_id: file.id,
          endpoint: shard.endpoint as OpenAI.BatchCreateParams['endpoint'],
          completion_window: '24h',
          metadata: { run: options.runId, shard: String(shard.index), model: shard.model },
        },
        { signal },
      );
    }),
  );
  options.log?.(`uploaded and submitted ${batches.length} batches (run ${options.runId})`);

  await mkdir(resultsDir, { recursive: true });
  const resultFiles: string[] = [];
  for (const submitted of batches) {
    let batch = submitted;
    while (!TERMINAL_BATCH_STATUSES.has(batch.status)) {
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 100));
      batch = await client.batches.retrieve(batch.id, { signal });
    }
    if (batch.status !== 'completed') {
      throw new BatchFailedError('BATCH_FAILED', `batch ended ${batch.status}`, { batchId: batch.id });
    }
    const counts = batch.request_counts;
    options.log?.(`${batch.id} ${batch.status}: ${counts?.completed ?? 0} completed, ${counts?.failed ?? 0} failed`);
    for (const fileId of [batch.output_file_id, batch.error_file_id]) {
      if (!fileId) continue;
      const path = join(resultsDir, `${fileId}.jsonl`);
      const response = await client.files.content(fileId, { signal });
      await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), createWriteStream(path));
      resultFiles.push(path);
    }
  }
  return resultFiles;
}

async function removeOwnFiles(dir: string, name: RegExp): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => name.test(n)).map((n) => rm(join(dir, n), { force: true })));
}

function log(io: CommandIO, line: string): void {
  io.stderr.write(`${line}\n`);
}

/**
 * The whole trip against the embedded emulator, using the stages and the
 * official SDK: generate → parse → validate → shard → upload → submit →
 * poll → download → join.
 */
export async function runDemo(
  options: { requests: number; maxRequests: number; errorRate: number; outDir: string; batchDurationMs: number },
  io: CommandIO,
): Promise<Record<ResultStatus, number>> {
  const started = Date.now();
  await mkdir(options.outDir, { recursive: true });
  // The demo's own files from an earlier run in the same directory go (and nothing else): shards never mix across runs.
  await removeOwnFiles(join(options.outDir, 'shards'), /^shard-\d{5}\.jsonl$/);
  await removeOwnFiles(join(options.outDir, 'results'), /^file-[0-9a-f]+\.jsonl$/);
  const inputPath = join(options.outDir, 'input.jsonl');
  await writeDemoInput(inputPath, options.requests);
  log(io, `wrote ${options.requests} requests across ${ROUTES.length} endpoint/model routes to ${inputPath}`);

  const emulator = await startEmulator({ batchDurationMs: options.batchDurationMs, errorRate: options.errorRate, seed: 7 });
  try {
    log(io, `emulator listening on ${emulator.url}/v1`);
    const client = new OpenAI({ baseURL: `${emulator.url}/v1`, apiKey: 'demo-key-not-secret' });

    const shards: ShardDescriptor[] = [];
    await pipeline(
      createReadStream(inputPath),
      createParser({ signal: io.signal }),
      createValidator({ routeByEndpoint: true, signal: io.signal }),
      createSharder({ dir: join(options.outDir, 'shards'), maxRequests: options.maxRequests, signal: io.signal }),
      new Writable({
        objectMode: true,
        write(shard: ShardDescriptor, _enc, done) {
          shards.push(shard);
          done();
        },
      }),
      { signal: io.signal },
    );
    log(io, `sharded into ${shards.length} files (≤ ${options.maxRequests} requests, one endpoint and model each)`);

    const runId = `demo-${started.toString(36)}`;
    const resultFiles = await runShardsOnApi(client, shards, join(options.outDir, 'results'), {
      runId,
      signal: io.signal,
      log: (line) => log(io, line),
    });
    log(io, `downloaded ${resultFiles.length} output and error files (lines in shuffled order)`);

    const outputPath = join(options.outDir, 'joined.jsonl');
    const joined = joinResults({ input: inputPath, results: resultFiles, signal: io.signal });
    await pipeline(Readable.from(joined), createJsonlSink(outputPath, { signal: io.signal }));
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
  usage: 'batchline demo [--requests N] [--max-requests N] [--error-rate R] [--batch-duration-ms N] [--out-dir DIR]',
  flags,
  notes: 'Exit 0 when every request has its result, 1 otherwise. Progress goes to stderr.',
  async run(args, io) {
    const { values } = parseCommandArgs('demo', args, flags, { min: 0, max: 0, what: 'no arguments, only flags' });
    const options = {
      requests: intFlag(values.requests, 'requests', 1) ?? 3000,
      maxRequests: intFlag(values['max-requests'], 'max-requests', 1) ?? 400,
      errorRate: numberFlag(values['error-rate'], 'error-rate', 0, 1) ?? 0.02,
      batchDurationMs: intFlag(values['batch-duration-ms'], 'batch-duration-ms', 0) ?? 1500,
    };
    if (values['out-dir'] !== undefined) await checkDirectory(values['out-dir'], '--out-dir');
    const outDir = values['out-dir'] ?? (await mkdtemp(join(tmpdir(), 'batchline-demo-')));
    const statuses = await runDemo({ ...options, outDir }, io);
    return statuses.missing === 0 ? 0 : 1;
  },
};
