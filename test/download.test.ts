import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import OpenAI from 'openai';
import t from 'tap';
import type { EmulatorHandle } from '../src/emulator/index.ts';
import { ApiClient } from '../src/openai/client.ts';
import { waitForBatch } from '../src/openai/poll.ts';
import { downloadBatchFiles, downloadFile, downloadResults, type ResultChunk } from '../src/openai/results.ts';
import { normalizeSubmitOptions, submitShard } from '../src/openai/submit.ts';
import { createDownloader, createFileDownloader } from '../src/streams/download.ts';
import { createPoller } from '../src/streams/poll.ts';
import { createSubmitter } from '../src/streams/submit.ts';
import type { BatchObject, SubmittedShard } from '../src/types.ts';
import { rejection } from './helpers/emulator.ts';
import { allBatches, FAST_RETRY, finish, KEY, parseLines, transport, uploadedShards, type Transport } from './helpers/transport.ts';

const CONTENT = /\/v1\/files\/[^/]+\/content$/;

/** A finished batch of `count` requests, with an output file (and an error file when the emulator has an error rate). */
async function finishedBatch(env: Transport, count: number): Promise<BatchObject> {
  const [shard] = await uploadedShards(env, 1, count);
  const { batchId } = await submitShard(env.client, shard, normalizeSubmitOptions());
  return finish(env.emulator, batchId);
}

/** A file's true bytes, read from the emulator's store. */
async function storedBytes(emulator: EmulatorHandle, fileId: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of emulator.files.read(fileId)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function chunksOf(iterable: AsyncIterable<ResultChunk>): Promise<ResultChunk[]> {
  const out: ResultChunk[] = [];
  for await (const chunk of iterable) out.push(chunk);
  return out;
}

t.test('20 % random faults end to end: one batch per shard, every result line downloaded exactly once', async (t) => {
  const env = await transport(t, { batchDurationMs: 300, errorRate: 0.2 });
  const shards = await uploadedShards(env, 5, 40);
  env.emulator.faults.setRandom({ rate: 0.2, seed: 11 });
  const submitter = createSubmitter({ client: env.client, concurrency: 3 });
  const chunks: ResultChunk[] = [];
  await pipeline(
    Readable.from(shards),
    submitter,
    createPoller({ client: env.client, initialDelayMs: 20, maxDelayMs: 100, maxRequestsPerSecond: 50 }),
    createDownloader({ client: env.client, idleTimeoutMs: 2000 }),
    async (source: AsyncIterable<ResultChunk>) => {
      for await (const chunk of source) chunks.push(chunk);
    },
  );
  const kinds = new Set(env.emulator.faults.injected.map((f) => f.kind));
  t.ok(kinds.size >= 4, `faults injected: ${[...kinds].join(', ')} (${env.emulator.faults.injected.length} in all)`);
  const batches = allBatches(env.emulator).filter((b) => b.metadata?.batchline_run === submitter.runId);
  t.equal(batches.length, 5, 'exactly one batch per shard');
  for (const chunk of chunks) t.equal(chunk.data[chunk.data.length - 1], 0x0a, 'each chunk ends at a line break');
  const ids = parseLines(chunks.map((c) => c.data)).map((line) => line.custom_id).sort();
  const expected = shards.flatMap((s) => Array.from({ length: 40 }, (_, i) => `r${s.index}-${i}`)).sort();
  t.same(ids, expected, 'every request has exactly one result line');
  t.ok(chunks.some((c) => c.kind === 'error'), 'error files came through too');
  t.same([...new Set(chunks.map((c) => c.shard))].sort(), [0, 1, 2, 3, 4]);
});

t.test('a truncated or reset body is read again without a duplicated or cut line', async (t) => {
  const env = await transport(t);
  const batch = await finishedBatch(env, 300);
  const truth = await storedBytes(env.emulator, batch.output_file_id as string);
  for (const [kind, extra] of [
    ['truncate', {}],
    ['reset-response', {}],
    ['truncate', { useRange: true }],
  ] as const) {
    env.emulator.faults.add({ kind, match: { path: CONTENT }, times: 3, fraction: 0.4 });
    const before = env.emulator.faults.injected.length;
    const chunks = await chunksOf(downloadResults(env.client, batch, extra));
    t.equal(env.emulator.faults.injected.length - before, 3, `${kind}: three faulty bodies`);
    t.ok(Buffer.concat(chunks.map((c) => c.data)).equals(truth), `${kind} ${JSON.stringify(extra)}: the exact bytes, once`);
    t.ok(chunks.every((c) => c.kind === 'output' && c.batchId === batch.id && c.fileId === batch.output_file_id));
  }
});

/** Our client behind a front that answers `Range: bytes=N-` with a 206, as a Range-capable server would (the emulator does not). */
function rangeClient(env: Transport, ranges: string[], misplace = 0): ApiClient {
  const sdk = new OpenAI({
    apiKey: KEY,
    baseURL: `${env.emulator.url}/v1`,
    fetch: async (url, init) => {
      const range = new Headers(init?.headers).get('range');
      const response = await fetch(url, init);
      const asked = range ? /^bytes=(\d+)-$/.exec(range) : null;
      if (!asked || response.status !== 200) return response;
      ranges.push(range as string);
      const bytes = Buffer.from(await response.arrayBuffer());
      const start = Number(asked[1]) + misplace;
      const headers = { 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}`, 'content-length': String(bytes.length - start) };
      return new Response(bytes.subarray(start), { status: 206, headers });
    },
  });
  return new ApiClient({ client: sdk, retry: FAST_RETRY });
}

t.test('with useRange, a Range-capable server sends only the rest; a wrong range is DOWNLOAD_SIZE_MISMATCH', async (t) => {
  const env = await transport(t);
  const batch = await finishedBatch(env, 200);
  const truth = await storedBytes(env.emulator, batch.output_file_id as string);
  const ranges: string[] = [];
  env.emulator.faults.add({ kind: 'truncate', match: { path: CONTENT }, fraction: 0.5 });
  const chunks = await chunksOf(downloadResults(rangeClient(env, ranges), batch, { useRange: true }));
  t.ok(Buffer.concat(chunks.map((c) => c.data)).equals(truth), 'the exact bytes, once');
  t.equal(ranges.length, 1);
  t.ok(Number(/\d+/.exec(ranges[0])?.[0]) > 0, `resumed with ${ranges[0]}`);
  env.emulator.faults.add({ kind: 'truncate', match: { path: CONTENT }, fraction: 0.5 });
  const err = await rejection(chunksOf(downloadResults(rangeClient(env, [], 1), batch, { useRange: true })));
  t.match(err, { code: 'DOWNLOAD_SIZE_MISMATCH', retryable: false, batchId: batch.id });
});

t.test('a stalled body is dropped after idleTimeoutMs and read again', async (t) => {
  const env = await transport(t);
  const batch = await finishedBatch(env, 100);
  const truth = await storedBytes(env.emulator, batch.output_file_id as string);
  env.emulator.faults.add({ kind: 'slow', match: { path: CONTENT }, delayMs: 60_000, chunkBytes: 1000 });
  const started = performance.now();
  const chunks = await chunksOf(downloadResults(env.client, batch, { idleTimeoutMs: 200 }));
  t.ok(Buffer.concat(chunks.map((c) => c.data)).equals(truth));
  t.ok(performance.now() - started < 30_000, 'did not wait for the stalled body');
  env.emulator.faults.add({ kind: 'slow', match: { path: CONTENT }, delayMs: 60_000, chunkBytes: 1000, times: Infinity });
  const stubborn = new ApiClient({ apiKey: KEY, baseURL: `${env.emulator.url}/v1`, retry: { ...FAST_RETRY, maxAttempts: 2 } });
  const err = await rejection(chunksOf(downloadResults(stubborn, batch, { idleTimeoutMs: 100 })));
  t.match(err, { code: 'DOWNLOAD_STALLED', attempts: 2, fileId: batch.output_file_id, batchId: batch.id, retryable: true });
});

t.test('a line longer than maxLineBytes is LINE_TOO_LARGE; a running batch is BATCH_NOT_FINISHED', async (t) => {
  const env = await transport(t, { batchDurationMs: 60_000 });
  const [shard] = await uploadedShards(env, 1, 3);
  const { batchId } = await submitShard(env.client, shard, normalizeSubmitOptions());
  t.match(await rejection(chunksOf(downloadResults(env.client, batchId))), { code: 'BATCH_NOT_FINISHED', batchId });
  await finish(env.emulator, batchId, 10_000);
  // Ten-byte pieces: every line spans chunks, so its start is carried, and the carry has a cap.
  env.emulator.faults.add({ kind: 'slow', match: { path: CONTENT }, delayMs: 1, chunkBytes: 10 });
  t.match(await rejection(chunksOf(downloadResults(env.client, batchId, { maxLineBytes: 20 }))), { code: 'LINE_TOO_LARGE' });
  t.throws(() => createDownloader({ client: env.client, idleTimeoutMs: 0 }), { code: 'INVALID_OPTION' });
  t.throws(() => createDownloader({ client: env.client, useRange: 'yes' as never }), { code: 'INVALID_OPTION' });
  t.throws(() => createFileDownloader({ client: env.client, outDir: '' }), { code: 'INVALID_OPTION' });
  t.match(await rejection(chunksOf(downloadResults(env.client, 42 as never))), { code: 'INVALID_OPTION' });
});

t.test('an expired batch yields its partial output and an error file of batch_expired lines', async (t) => {
  // A run longer than the 24 h window: at expiry about half the requests are answered.
  const env = await transport(t, { batchDurationMs: 200_000_000 });
  const [shard] = await uploadedShards(env, 1, 20);
  const submitted = await submitShard(env.client, shard, normalizeSubmitOptions());
  while (env.emulator.batches.retrieve(submitted.batchId).status !== 'in_progress') env.emulator.clock.advance(3_600_000);
  env.emulator.clock.advance(24 * 3_600_000);
  const batch = await waitForBatch(env.client, submitted.batchId, { initialDelayMs: 10, maxDelayMs: 50 });
  t.equal(batch.status, 'expired', 'emitted like any other ending, not thrown');
  const chunks = await chunksOf(downloadResults(env.client, { ...submitted, batch }));
  const output = parseLines(chunks.filter((c) => c.kind === 'output').map((c) => c.data));
  const errors = parseLines(chunks.filter((c) => c.kind === 'error').map((c) => c.data));
  t.ok(output.length > 0 && errors.length > 0, `${output.length} answered, ${errors.length} expired`);
  t.equal(output.length + errors.length, 20);
  t.ok(errors.every((line) => line.error?.code === 'batch_expired'));
});

t.test('a cancelled batch yields its partial output and batch_cancelled lines', async (t) => {
  const env = await transport(t, { batchDurationMs: 200_000_000 });
  const [shard] = await uploadedShards(env, 1, 20);
  const submitted = await submitShard(env.client, shard, normalizeSubmitOptions());
  while (env.emulator.batches.retrieve(submitted.batchId).request_counts.completed < 5) env.emulator.clock.advance(3_600_000);
  const { cancelBatch } = await import('../src/openai/batches.ts');
  t.equal((await cancelBatch(env.client, submitted.batchId)).status, 'cancelling');
  env.emulator.clock.advance(30 * 3_600_000);
  const [polled] = await collect([submitted], createPoller({ client: env.client, initialDelayMs: 10 }));
  t.match(polled, { batch: { status: 'cancelled' }, failure: null });
  const dir = env.dir;
  const files = await downloadBatchFiles(env.client, polled as SubmittedShard, dir);
  const output = (await readFile(files.output!.path, 'utf8')).split('\n').filter(Boolean);
  const errors = (await readFile(files.error!.path, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l));
  t.equal(output.length + errors.length, 20);
  t.ok(output.length >= 5 && errors.length > 0);
  t.ok(errors.every((line) => line.error.code === 'batch_cancelled'));
});

async function collect(items: readonly unknown[], stage: NodeJS.ReadWriteStream): Promise<unknown[]> {
  const out: unknown[] = [];
  await pipeline(Readable.from(items), stage, async (source: AsyncIterable<unknown>) => {
    for await (const item of source) out.push(item);
  });
  return out;
}

t.test('downloadBatchFiles writes <batch>_output.jsonl and <batch>_error.jsonl; an absent file is simply absent', async (t) => {
  const env = await transport(t, { errorRate: 0.3 });
  const batch = await finishedBatch(env, 30);
  const out = join(env.dir, 'results', 'nested');
  const files = await downloadBatchFiles(env.client, batch.id, out);
  t.equal(files.output?.path, join(out, `${batch.id}_output.jsonl`));
  t.equal(files.error?.path, join(out, `${batch.id}_error.jsonl`));
  t.ok((await readFile(files.output!.path)).equals(await storedBytes(env.emulator, batch.output_file_id!)));
  t.ok((await readFile(files.error!.path)).equals(await storedBytes(env.emulator, batch.error_file_id!)));
  t.equal(files.output?.bytes, (await readFile(files.output!.path)).length);
  const clean = { ...batch, error_file_id: '' };
  const only = await downloadBatchFiles(env.client, clean, join(env.dir, 'clean'));
  t.equal(only.error, null, 'an error_file_id of "" is no file');
  t.same(await readdir(join(env.dir, 'clean')), [`${batch.id}_output.jsonl`]);
  const [saved] = (await collect([batch], createFileDownloader({ client: env.client, outDir: join(env.dir, 'stage') }))) as Array<typeof files>;
  t.equal(saved.output?.bytes, files.output?.bytes);
});

t.test('downloadFile lands whole or not at all: a failure or an abort leaves no file and no temp file', async (t) => {
  const env = await transport(t);
  const batch = await finishedBatch(env, 50);
  const dir = join(env.dir, 'downloads');
  await mkdir(dir);
  const path = join(dir, 'out.jsonl');
  const fileId = batch.output_file_id as string;
  env.emulator.faults.add({ kind: 'truncate', match: { path: CONTENT } });
  const done = await downloadFile(env.client, fileId, path);
  t.ok((await readFile(path)).equals(await storedBytes(env.emulator, fileId)));
  t.equal(done.bytes, (await readFile(path)).length);
  await writeFile(path, 'old');
  t.match(await rejection(downloadFile(env.client, 'file-missing', path)), { code: 'API_NOT_FOUND', attempts: 1 });
  t.equal(await readFile(path, 'utf8'), 'old', 'the old file is untouched');
  env.emulator.faults.add({ kind: 'slow', match: { path: CONTENT }, delayMs: 60_000, chunkBytes: 100 });
  const controller = new AbortController();
  const fresh = join(dir, 'fresh.jsonl');
  const pending = rejection(downloadFile(env.client, fileId, fresh, { signal: controller.signal }));
  while (!env.emulator.faults.injected.some((f) => f.kind === 'slow')) await new Promise((resolve) => setTimeout(resolve, 5));
  controller.abort();
  t.match(await pending, { code: 'ABORTED' });
  t.same(await readdir(dir), ['out.jsonl'], 'no half file, no temp file');
  t.match(await rejection(downloadFile(env.client, fileId, join(dir, 'no', 'such', 'dir', 'x.jsonl'))), { code: 'DOWNLOAD_WRITE_FAILED', syscallCode: 'ENOENT' });
});
