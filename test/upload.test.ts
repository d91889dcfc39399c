import t from 'tap';
import { createHash } from 'node:crypto';
import { appendFile, rm, writeFile, readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import OpenAI from 'openai';
import { ApiClient } from '../src/openai/client.ts';
import { deleteFile, listFiles, retrieveFile, uploadFile } from '../src/openai/files.ts';
import { createUploader, uploadShards } from '../src/streams/upload.ts';
import type { UploadProgress } from '../src/openai/shard-source.ts';
import type { UploadedShard } from '../src/types.ts';
import { emulatorWithClient, rejection, TEST_KEY } from './helpers/emulator.ts';
import { lingeringResources, makeShards, requestCounter, storedSha256 } from './helpers/shards.ts';
import { collect } from './helpers/streams.ts';
import type { Teardown } from './helpers/temp.ts';

const fast = { baseDelayMs: 1, maxDelayMs: 5 };

async function setUp(t: Teardown, options: Parameters<typeof emulatorWithClient>[1] = {}, retry: object = fast) {
  const { emulator } = await emulatorWithClient(t, options);
  const counter = requestCounter();
  const sdk = new OpenAI({ apiKey: TEST_KEY, baseURL: `${emulator.url}/v1`, fetch: counter.fetch });
  const client = new ApiClient({ client: sdk, retry });
  return { emulator, client, counter };
}

t.test('uploads shards of different sizes in order, each stored byte for byte', async (t) => {
  const { emulator, client } = await setUp(t);
  const shards = await makeShards(t.testdir(), [50, 900, 10, 400, 2000]);
  const progress: UploadProgress[] = [];
  const out: UploadedShard[] = [];
  // The first shard's reply is slow, so later shards finish first; the output keeps input order.
  emulator.faults.add({ kind: 'slow', match: { method: 'POST', path: '/v1/files' }, delayMs: 20 });
  await pipeline(Readable.from(shards), createUploader({ client, concurrency: 3, onProgress: (p) => progress.push(p) }), collect(out));
  t.same(out.map((s) => s.index), shards.map((s) => s.index));
  for (const [i, shard] of out.entries()) {
    t.same({ ...shard, fileId: undefined }, { ...shards[i], fileId: undefined }, 'the descriptor comes through unchanged');
    t.equal(await storedSha256(emulator, shard.fileId), shard.sha256);
    t.match(emulator.files.get(shard.fileId), { filename: shard.path.split('/').at(-1), purpose: 'batch', bytes: shard.bytes });
    const last = progress.filter((p) => p.shard === shard.index).at(-1);
    t.same(last, { shard: shard.index, path: shard.path, bytesSent: shard.bytes, bytesTotal: shard.bytes });
  }
});

t.test('a lost answer to POST /v1/files adopts the stored file instead of storing a second', async (t) => {
  const { emulator, client, counter } = await setUp(t);
  const shards = await makeShards(t.testdir(), [300, 200]);
  for (const [i, kind] of (['reset-response', 'truncate'] as const).entries()) {
    emulator.faults.add({ kind, match: { method: 'POST', path: '/v1/files' } });
    const file = await uploadFile(client, shards[i], {});
    t.equal(await storedSha256(emulator, file.id), shards[i].sha256, kind);
  }
  t.equal(emulator.files.list().length, 2, 'one file per shard');
  t.equal(counter.count('POST', '/v1/files'), 2, 'each shard sent once');
  t.equal(counter.count('GET', /^\/v1\/files\/[^/]+\/content$/), 2, 'each adoption checked the content');
});

t.test('a same-named file with other bytes is not adopted', async (t) => {
  const { emulator, client, counter } = await setUp(t);
  const dir = t.testdir();
  const [shard] = await makeShards(dir, [300]);
  const original = await readFile(shard.path);
  // Another file of the same name and size but other content, stored first.
  await writeFile(shard.path, Buffer.from(original.toString('latin1').replace('s0-r0', 's0-rX'), 'latin1'));
  const impostor = await uploadFile(client, { ...shard, sha256: createHash('sha256').update(await readFile(shard.path)).digest('hex') });
  await writeFile(shard.path, original);
  emulator.faults.add({ kind: '500', match: { method: 'POST', path: '/v1/files' } });
  const file = await uploadFile(client, shard);
  t.not(file.id, impostor.id);
  t.equal(await storedSha256(emulator, file.id), shard.sha256);
  t.equal(counter.count('GET', /^\/v1\/files\/[^/]+\/content$/), 1, 'the impostor was looked at and refused');
});

t.test('SHARD_CHANGED when the file changed after sharding, and nothing is stored', async (t) => {
  const { emulator, client, counter } = await setUp(t);
  const shards = await makeShards(t.testdir(), [100, 100, 100]);
  const bytes = await readFile(shards[0].path);
  bytes[10] ^= 1; // same size, other content: found by the digest while streaming
  await writeFile(shards[0].path, bytes);
  await appendFile(shards[1].path, '\n'); // other size: found before anything is sent
  await rm(shards[2].path);
  const changed = await rejection(uploadFile(client, shards[0]));
  t.match(changed, { code: 'SHARD_CHANGED', shard: 0, path: shards[0].path, message: /sha256/ });
  t.match(await rejection(uploadFile(client, shards[1])), { code: 'SHARD_CHANGED', shard: 1, message: /bytes/ });
  t.match(await rejection(uploadFile(client, shards[2])), { code: 'SHARD_CHANGED', shard: 2, message: /gone/ });
  t.equal(counter.count('POST', '/v1/files'), 1, 'sent once, not retried; the others never left');
  t.same(emulator.files.list(), []);
});

t.test('400-class answers are not retried: 401, 413', async (t) => {
  const { emulator, client, counter } = await setUp(t, { apiKey: TEST_KEY, limits: { maxFileBytes: 1000 } });
  const [small, large] = await makeShards(t.testdir(), [10, 2000]);
  t.match(await rejection(uploadFile(client, large)), { code: 'API_ERROR', status: 413, attempts: 1, apiCode: 'file_too_large', shard: 1 });
  const wrongKey = new ApiClient({ apiKey: 'sk-wrong-key-456', baseURL: `${emulator.url}/v1`, retry: fast });
  const unauthorized = await rejection(uploadFile(wrongKey, small));
  t.match(unauthorized, { code: 'API_UNAUTHORIZED', status: 401, attempts: 1 });
  t.notMatch(unauthorized.message, /sk-wrong-key-456/);
  t.equal(counter.count('POST', '/v1/files'), 1);
});

t.test('abort mid-upload: ABORTED at once, the file closed, nothing left running', async (t) => {
  const { emulator, client } = await setUp(t);
  const shards = await makeShards(t.testdir(), [3000, 3000]);
  emulator.faults.add({ kind: 'slow', match: { method: 'POST', path: '/v1/files' }, times: Infinity, delayMs: 200 });
  const controller = new AbortController();
  const uploaded: UploadedShard[] = [];
  const run = rejection(pipeline(Readable.from(shards), createUploader({ client, signal: controller.signal, onProgress: () => controller.abort() }), collect(uploaded)));
  t.match(await run, { code: 'ABORTED' });
  t.same(uploaded, []);
  await emulator.close();
  t.same(await lingeringResources(), [], 'no timer, socket or file handle left');
});

t.test('file helpers: list pages through the cursor, retrieve, delete treats absent ids as nothing to do', async (t) => {
  const { emulator, client } = await setUp(t, { faultRate: 0.3, faultKinds: ['500', 'reset-request', '429'], seed: 7 }, { ...fast, maxAttempts: 20 });
  const shards = await makeShards(t.testdir(), [10, 20, 30, 40, 50]);
  const ids: string[] = [];
  for await (const shard of uploadShards(shards, { client, concurrency: 2 })) ids.push(shard.fileId);
  emulator.faults.setRandom({ rate: 0 });
  const listed: string[] = [];
  for await (const file of listFiles(client, { purpose: 'batch', pageSize: 2, order: 'asc' })) listed.push(file.id);
  t.same([...listed].sort(), [...ids].sort());
  t.match(await retrieveFile(client, ids[0]), { id: ids[0], bytes: shards[0].bytes });
  t.equal(await deleteFile(client, ids[0]), true);
  t.equal(await deleteFile(client, ids[0]), false, 'already gone');
  t.equal(await deleteFile(client, ''), false);
  t.equal(await deleteFile(client, null), false);
  t.match(await rejection(retrieveFile(client, ids[0])), { code: 'API_NOT_FOUND', fileId: ids[0] });
  await t.rejects(retrieveFile(client, ''), { code: 'INVALID_OPTION' });
});
