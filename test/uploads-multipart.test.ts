import t from 'tap';
import { readFile, writeFile, appendFile, copyFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import OpenAI from 'openai';
import { ApiClient } from '../src/openai/client.ts';
import { uploadMultipart, partRanges } from '../src/openai/uploads.ts';
import { normalizeShardUploadOptions, uploadShard } from '../src/openai/upload-shard.ts';
import { createUploader, uploadShards } from '../src/streams/upload.ts';
import type { UploadProgress } from '../src/openai/shard-source.ts';
import type { EmulatorOptions } from '../src/emulator/index.ts';
import type { ShardDescriptor, UploadedShard } from '../src/types.ts';
import { emulatorWithClient, rejection, TEST_KEY } from './helpers/emulator.ts';
import { lingeringResources, makeShards, requestCounter, storedSha256 } from './helpers/shards.ts';
import type { Teardown } from './helpers/temp.ts';

const fast = { baseDelayMs: 1, maxDelayMs: 5 };
const KiB = 1024;
/** Small sizes so the tests stay fast: parts of 16 KiB above a 64 KiB threshold. */
const small = { multipartThresholdBytes: 64 * KiB, partSizeBytes: 16 * KiB, partConcurrency: 3 };
const PARTS = /^\/v1\/uploads\/[^/]+\/parts$/;

async function setUp(t: Teardown, options: EmulatorOptions = {}, retry: object = fast) {
  const { emulator } = await emulatorWithClient(t, options);
  const counter = requestCounter();
  const sdk = new OpenAI({ apiKey: TEST_KEY, baseURL: `${emulator.url}/v1`, fetch: counter.fetch });
  return { emulator, client: new ApiClient({ client: sdk, retry }), counter };
}

/** The id of the one upload the client created (from the emulator's view of the requests). */
function uploadIdOf(err: { uploadId?: string }): string {
  if (typeof err.uploadId !== 'string') throw new Error('the error carries no uploadId');
  return err.uploadId;
}

t.test('a large shard goes up in parts, in order, with the md5 checked by the server', async (t) => {
  const { emulator, client, counter } = await setUp(t);
  const [shard] = await makeShards(t.testdir(), [5000]);
  t.ok(shard.bytes > 64 * KiB);
  const progress: UploadProgress[] = [];
  const uploaded = await uploadShard(client, shard, normalizeShardUploadOptions({ ...small, onProgress: (p) => progress.push(p) }));
  t.equal(await storedSha256(emulator, uploaded.fileId), shard.sha256);
  t.match(emulator.files.get(uploaded.fileId), { filename: 'shard-00000.jsonl', purpose: 'batch', bytes: shard.bytes });
  const parts = Math.ceil(shard.bytes / (16 * KiB));
  t.same([counter.count('POST', '/v1/uploads'), counter.count('POST', PARTS), counter.count('POST', /complete$/)], [1, parts, 1]);
  t.equal(counter.count('POST', '/v1/files'), 0);
  t.same(progress.at(-1), { shard: 0, path: shard.path, bytesSent: shard.bytes, bytesTotal: shard.bytes });
  t.ok(progress.every((p, i) => i === 0 || p.bytesSent >= progress[i - 1].bytesSent), 'no attempt failed, so progress only grows');
  t.same(partRanges(40, 16), [{ start: 0, end: 16 }, { start: 16, end: 32 }, { start: 32, end: 40 }]);
});

t.test('a reset mid-part retries that part only', async (t) => {
  const { emulator, client, counter } = await setUp(t);
  const [shard] = await makeShards(t.testdir(), [5000]);
  emulator.faults.add({ kind: 'reset-request', match: { path: PARTS }, fraction: 0.5 });
  const progress: number[] = [];
  const uploaded = await uploadShard(client, shard, normalizeShardUploadOptions({ ...small, onProgress: (p) => progress.push(p.bytesSent) }));
  t.equal(await storedSha256(emulator, uploaded.fileId), shard.sha256);
  t.same(emulator.faults.injected.map((f) => f.kind), ['reset-request']);
  t.equal(counter.count('POST', PARTS), Math.ceil(shard.bytes / (16 * KiB)) + 1, 'one part sent twice, the rest once');
  t.same([counter.count('POST', '/v1/uploads'), counter.count('POST', /complete$/)], [1, 1]);
  t.equal(progress.at(-1), shard.bytes);
});

t.test('under a 20 % fault rate every shard, small and large, is stored once and byte for byte', async (t) => {
  const { emulator, client } = await setUp(t, { faultRate: 0.2, seed: 12 }, { ...fast, maxAttempts: 12 });
  const shards = await makeShards(t.testdir(), [5000, 40, 3000, 700, 6000, 10, 4000, 300]);
  t.ok(shards.some((s) => s.bytes > 64 * KiB) && shards.some((s) => s.bytes <= 64 * KiB), 'both paths are used');
  const out: UploadedShard[] = [];
  for await (const shard of uploadShards(shards, { client, concurrency: 3, ...small, partSizeBytes: 8 * KiB })) out.push(shard);
  t.same(out.map((s) => s.index), shards.map((s) => s.index), 'in input order');
  for (const shard of out) t.equal(await storedSha256(emulator, shard.fileId), shard.sha256, `shard ${shard.index}`);
  t.equal(emulator.files.list().length, shards.length, 'no second file for a lost answer');
  const kinds = new Set(emulator.faults.injected.map((f) => f.kind));
  t.ok(emulator.faults.injected.length >= 5, `${emulator.faults.injected.length} faults were injected: ${[...kinds].join(', ')}`);
});

t.test('a lost answer to complete adopts the file it made', async (t) => {
  const { emulator, client, counter } = await setUp(t);
  const [shard] = await makeShards(t.testdir(), [4000]);
  emulator.faults.add({ kind: 'reset-response', match: { path: /complete$/ } });
  const uploaded = await uploadShard(client, shard, normalizeShardUploadOptions(small));
  t.equal(await storedSha256(emulator, uploaded.fileId), shard.sha256);
  t.equal(emulator.files.list().length, 1);
  t.same([counter.count('POST', /complete$/), counter.count('GET', /content$/)], [2, 1]);
});

t.test('UPLOAD_INCOMPLETE when a lost complete left no file to adopt', async (t) => {
  const { emulator } = await emulatorWithClient(t);
  const [shard] = await makeShards(t.testdir(), [4000]);
  emulator.faults.add({ kind: 'truncate', match: { path: /complete$/ } });
  // The file the lost answer made is deleted before the retry looks for it.
  const onRetry = ({ operation }: { operation: string }) => {
    if (operation.startsWith('complete')) for (const file of emulator.files.list()) void emulator.files.delete(file.id);
  };
  const client = new ApiClient({ apiKey: TEST_KEY, baseURL: `${emulator.url}/v1`, retry: fast, onRetry });
  const err = await rejection(uploadMultipart(client, shard, small));
  t.match(err, { code: 'UPLOAD_INCOMPLETE', shard: 0, uploadId: /^upload_/, message: /no longer pending/ });
  t.equal(emulator.uploads.retrieve(uploadIdOf(err)).status, 'completed', 'a completed upload cannot be cancelled');
});

t.test('an upload that cannot finish is cancelled, and its error names it', async (t) => {
  const { emulator, client } = await setUp(t, {}, { ...fast, maxAttempts: 3 });
  const [shard] = await makeShards(t.testdir(), [4000]);
  emulator.faults.add({ kind: '500', match: { path: PARTS }, times: Infinity });
  const err = await rejection(uploadMultipart(client, shard, small));
  t.match(err, { code: 'API_SERVER_ERROR', status: 500, attempts: 3, shard: 0, uploadId: /^upload_/ });
  t.equal(emulator.uploads.retrieve(uploadIdOf(err)).status, 'cancelled');
  t.same(emulator.files.list(), []);
});

t.test('SHARD_CHANGED on the multipart path: before any request, at complete, and mid-upload', async (t) => {
  const { emulator, client, counter } = await setUp(t);
  const dir = t.testdir();
  const shards = await makeShards(dir, [4000, 4000, 4000]);
  await appendFile(shards[0].path, 'x');
  t.match(await rejection(uploadMultipart(client, shards[0], small)), { code: 'SHARD_CHANGED', shard: 0, message: /bytes/ });
  t.equal(counter.count('POST', '/v1/uploads'), 0, 'found before an upload was made');

  const bytes = await readFile(shards[1].path);
  bytes[100] ^= 1;
  await writeFile(shards[1].path, bytes);
  const atComplete = await rejection(uploadMultipart(client, shards[1], small));
  t.match(atComplete, { code: 'SHARD_CHANGED', shard: 1, path: shards[1].path, message: /md5/ });
  t.equal(emulator.uploads.retrieve(uploadIdOf(atComplete)).status, 'cancelled');

  const original = await readFile(shards[2].path);
  let rewritten = false;
  const rewrite = () => {
    if (rewritten) return;
    rewritten = true;
    writeFileSync(shards[2].path, Buffer.from(original.toString('latin1').replace('s2-r19', 's2-rZZ'), 'latin1'));
  };
  const midway = await rejection(uploadMultipart(client, shards[2], { ...small, onProgress: rewrite }));
  t.match(midway, { code: 'SHARD_CHANGED', shard: 2 });
  t.equal(emulator.uploads.retrieve(uploadIdOf(midway)).status, 'cancelled');
  t.same(emulator.files.list(), [], 'no file was made from changed bytes');
});

t.test('abort mid-upload: ABORTED, the upload cancelled, nothing left running', async (t) => {
  const { emulator, client } = await setUp(t);
  const [shard] = await makeShards(t.testdir(), [5000]);
  emulator.faults.add({ kind: 'slow', match: { path: PARTS }, times: Infinity, delayMs: 100 });
  const controller = new AbortController();
  const aborted = await rejection(uploadMultipart(client, shard, { ...small, onProgress: () => controller.abort() }, controller.signal));
  t.match(aborted, { code: 'ABORTED', shard: 0 });
  t.equal(emulator.uploads.retrieve(uploadIdOf(aborted)).status, 'cancelled');
  t.same(emulator.files.list(), []);
  await emulator.close();
  t.same(await lingeringResources(), [], 'no timer, socket or file handle left');
});

t.test('400-class answers are not retried', async (t) => {
  const { client, counter } = await setUp(t, { limits: { maxUploadBytes: 50 * KiB } });
  const [shard] = await makeShards(t.testdir(), [4000]);
  t.match(await rejection(uploadMultipart(client, shard, small)), { code: 'API_BAD_REQUEST', status: 400, attempts: 1, apiCode: 'invalid_value' });
  t.equal(counter.count('POST', '/v1/uploads'), 1);
});

t.test('options and inputs are checked up front', async (t) => {
  const client = new ApiClient({ apiKey: TEST_KEY, baseURL: 'http://127.0.0.1:9/v1' });
  for (const [option, value] of [
    ['partSizeBytes', 1024],
    ['partSizeBytes', 65 * 1024 * 1024],
    ['partConcurrency', 0],
    ['multipartThresholdBytes', 513 * 1024 * 1024],
    ['concurrency', 0],
  ] as const) {
    t.throws(() => createUploader({ client, [option]: value }), { code: 'INVALID_OPTION', message: new RegExp(option) });
  }
  t.throws(() => createUploader({ client, onProgress: 'yes' as never }), { code: 'INVALID_OPTION' });
  const dir = t.testdir();
  const [shard] = await makeShards(dir, [10]);
  const notJsonl: ShardDescriptor = { ...shard, path: `${dir}/shard.txt` };
  await copyFile(shard.path, notJsonl.path);
  await t.rejects(uploadShard(client, notJsonl, normalizeShardUploadOptions()), { code: 'INVALID_OPTION', shard: 0 });
  const junk = rejection((async () => {
    for await (const _ of uploadShards([{ path: 'x' } as never], { client })) t.fail('no output');
  })());
  t.match(await junk, { code: 'INVALID_SHARD' });
});
