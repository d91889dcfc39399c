import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import OpenAI, { toFile } from 'openai';
import { request } from 'undici';
import { FaultPlan } from '../src/emulator/index.ts';
import { chatLines, emulatorWithClient, rejection, tempDir, TEST_KEY } from './helpers/emulator.ts';

const jsonl = async (name = 'in.jsonl', ids = ['a', 'b']) => toFile(Buffer.from(chatLines(ids)), name);

/** Reads a body until it ends or fails: how many bytes came, and the error if it failed. */
async function readUntilError(body: AsyncIterable<Buffer>): Promise<{ received: number; error: any }> {
  let received = 0;
  try {
    for await (const chunk of body) received += chunk.length;
  } catch (error) {
    return { received, error };
  }
  return { received, error: null };
}

t.test('429 carries Retry-After and retry-after-ms, and the SDK waits that long before its retry', async (t) => {
  const { client, emulator } = await emulatorWithClient(t);
  emulator.faults.add({ match: { method: 'GET', path: '/v1/files' }, kind: '429', retryAfterSeconds: 0.4 });
  const raw = await request(`${emulator.url}/v1/files`);
  t.equal(raw.statusCode, 429);
  t.equal(raw.headers['retry-after'], '1', 'whole seconds, rounded up');
  t.equal(raw.headers['retry-after-ms'], '400');
  t.same(await raw.body.json(), {
    error: { message: 'Rate limit reached for requests. Please try again later.', type: 'requests', param: null, code: 'rate_limit_exceeded' },
  });

  emulator.faults.add({ match: { method: 'GET', path: '/v1/files' }, kind: '429', retryAfterSeconds: 0.4 });
  const retrying = new OpenAI({ baseURL: `${emulator.url}/v1`, apiKey: TEST_KEY, maxRetries: 2 });
  const started = Date.now();
  const list = await retrying.files.list();
  const waited = Date.now() - started;
  t.same(list.data, []);
  t.ok(waited >= 380, `the retry came after the requested 400 ms (waited ${waited} ms)`);
  t.same(emulator.faults.injected.map((f) => f.kind), ['429', '429']);

  emulator.faults.add({ kind: '429', times: 1 });
  const err = await rejection(client.files.list());
  t.equal(err.status, 429, 'without retries the SDK reports the 429');
});

t.test('500 and 503 replies fail the call without retries and are retried past with them', async (t) => {
  const { client, emulator } = await emulatorWithClient(t);
  for (const kind of ['500', '503'] as const) {
    emulator.faults.add({ match: { method: 'POST', path: /\/v1\/files$/ }, kind });
    const err = await rejection(client.files.create({ file: await jsonl(), purpose: 'batch' }));
    t.equal(err.status, Number(kind));
    t.equal(err.error.type, 'server_error');
  }
  t.same((await client.files.list()).data, [], 'a fault decided before the action leaves no file');

  emulator.faults.add({ match: { method: 'POST', path: /\/v1\/files$/ }, kind: '503', times: 2, retryAfterSeconds: 0 });
  const retrying = new OpenAI({ baseURL: `${emulator.url}/v1`, apiKey: TEST_KEY, maxRetries: 2 });
  const file = await retrying.files.create({ file: await jsonl(), purpose: 'batch' });
  t.same((await client.files.list()).data.map((f) => f.id), [file.id], 'exactly one file after two faults and a success');
  t.equal(emulator.faults.pending, 0, 'the rule is spent');
});

t.test('a connection reset in the middle of an upload creates nothing, in memory or on disk', async (t) => {
  const dir = await tempDir(t);
  const { client, emulator } = await emulatorWithClient(t, { stateDir: dir });
  emulator.faults.add({ match: { method: 'POST', path: '/v1/files' }, kind: 'reset-request' });
  const big = Buffer.from(chatLines(Array.from({ length: 5000 }, (_, i) => `r${i}`)));
  const err = await rejection(client.files.create({ file: await toFile(big, 'big.jsonl'), purpose: 'batch' }));
  t.equal(err.constructor.name, 'APIConnectionError');
  t.same((await client.files.list()).data, []);
  t.same(await readdir(join(dir, 'files')), [], 'no staged bytes left on disk');

  emulator.faults.add({ match: { method: 'POST', path: /\/parts$/ }, kind: 'reset-request' });
  const upload = await client.uploads.create({ bytes: big.length, filename: 'big.jsonl', mime_type: 'text/jsonl', purpose: 'batch' });
  t.equal((await rejection(client.uploads.parts.create(upload.id, { data: await toFile(big, 'p') }))).constructor.name, 'APIConnectionError');
  const part = await client.uploads.parts.create(upload.id, { data: await toFile(big, 'p') });
  const done = await client.uploads.complete(upload.id, { part_ids: [part.id] });
  t.equal(done.file!.bytes, big.length, 'the reset part left nothing that counts towards the upload');
});

t.test('reset-response does the action and loses the answer: the lost-response case', async (t) => {
  const { client, emulator } = await emulatorWithClient(t);
  emulator.faults.add({ match: { method: 'POST', path: '/v1/files' }, kind: 'reset-response' });
  const err = await rejection(client.files.create({ file: await jsonl(), purpose: 'batch' }));
  // The headers arrive, then the body is cut: the SDK fails reading it (undici's "terminated").
  t.match(String(err.message), /terminated|closed|reset|socket/i, `the call failed: ${err.message}`);
  const files = (await client.files.list()).data;
  t.equal(files.length, 1, 'the file was created although its reply was lost');
});

t.test('a fault on batch creation, decided before the action, creates no batch', async (t) => {
  const { client, emulator } = await emulatorWithClient(t);
  const input = await client.files.create({ file: await jsonl(), purpose: 'batch' });
  for (const kind of ['500', 'reset-request'] as const) {
    emulator.faults.add({ match: { method: 'POST', path: '/v1/batches' }, kind });
    await rejection(client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' }));
  }
  t.same((await client.batches.list()).data, []);
  const batch = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  t.same((await client.batches.list()).data.map((b) => b.id), [batch.id]);
});

t.test('a truncated download announces the full length, sends less, and the client notices', async (t) => {
  const { client, emulator } = await emulatorWithClient(t);
  const text = chatLines(Array.from({ length: 200 }, (_, i) => `r${i}`));
  const file = await client.files.create({ file: await toFile(Buffer.from(text), 'd.jsonl'), purpose: 'batch' });
  const contentPath = new RegExp(`/v1/files/${file.id}/content$`);

  emulator.faults.add({ match: { path: contentPath }, kind: 'truncate', fraction: 0.3 });
  const raw = await request(`${emulator.url}/v1/files/${file.id}/content`);
  t.equal(raw.headers['content-length'], String(Buffer.byteLength(text)));
  const cut = await readUntilError(raw.body);
  t.equal(cut.received, Math.floor(Buffer.byteLength(text) * 0.3), 'the body stops where the fault cut it');
  t.match(cut.error, { code: 'UND_ERR_SOCKET' }, 'undici reports the short body as an error, not an end');

  emulator.faults.add({ match: { path: contentPath }, kind: 'truncate' });
  const response = await client.files.content(file.id);
  t.match(await rejection(response.text()), { message: 'terminated', cause: { code: 'UND_ERR_SOCKET' } }, 'the SDK response body rejects too');

  t.equal(await (await client.files.content(file.id)).text(), text, 'the next download is whole');
});

t.test('a reset in the middle of a download is an error, not a short success', async (t) => {
  const { client, emulator } = await emulatorWithClient(t);
  const text = chatLines(Array.from({ length: 2000 }, (_, i) => `r${i}`));
  const file = await client.files.create({ file: await toFile(Buffer.from(text), 'd.jsonl'), purpose: 'batch' });
  emulator.faults.add({ match: { path: /\/content$/ }, kind: 'reset-response' });
  const err = await rejection((async () => (await client.files.content(file.id)).text())());
  t.match(err, { message: 'terminated', cause: { code: 'ECONNRESET' } }, 'the SDK reports the reset');

  emulator.faults.add({ match: { path: /\/content$/ }, kind: 'reset-response' });
  const raw = await request(`${emulator.url}/v1/files/${file.id}/content`);
  const cut = await readUntilError(raw.body);
  t.match(cut.error, { code: 'ECONNRESET' });
  t.ok(cut.received < Buffer.byteLength(text), `fewer bytes than announced arrived (${cut.received} of ${raw.headers['content-length']})`);
});

t.test('a slow reply dribbles the body but delivers every byte', async (t) => {
  const { client, emulator } = await emulatorWithClient(t);
  const text = chatLines(['s1', 's2', 's3']);
  const file = await client.files.create({ file: await toFile(Buffer.from(text), 's.jsonl'), purpose: 'batch' });
  emulator.faults.add({ match: { path: /\/content$/ }, kind: 'slow', delayMs: 40, chunkBytes: Math.ceil(Buffer.byteLength(text) / 5) });
  const raw = await request(`${emulator.url}/v1/files/${file.id}/content`);
  const started = Date.now();
  const chunks: Buffer[] = [];
  for await (const chunk of raw.body) chunks.push(chunk as Buffer);
  const took = Date.now() - started;
  t.equal(Buffer.concat(chunks).toString(), text);
  t.ok(chunks.length >= 3, `arrived in ${chunks.length} pieces`);
  t.ok(took >= 120, `took ${took} ms for four 40 ms pauses`);

  emulator.faults.add({ match: { path: /\/v1\/files\/[^/]+$/ }, kind: 'slow', delayMs: 10 });
  t.equal((await client.files.retrieve(file.id)).id, file.id, 'a slow JSON reply still parses');
});

t.test('a fault rate injects seeded random faults', async (t) => {
  const { client, emulator } = await emulatorWithClient(t, { faultRate: 1, faultKinds: ['500'] }, { maxRetries: 0 });
  t.equal((await rejection(client.files.list())).status, 500);
  t.equal((await rejection(client.files.list())).status, 500);

  const sequence = (seed: number) => {
    const plan = new FaultPlan({ rate: 0.3, seed });
    return Array.from({ length: 200 }, () => plan.take('GET', '/v1/files')?.kind ?? '-').join(',');
  };
  t.equal(sequence(7), sequence(7), 'the same seed gives the same faults');
  t.not(sequence(7), sequence(8), 'another seed gives others');
  const kinds = sequence(7).split(',');
  const share = kinds.filter((k) => k !== '-').length / kinds.length;
  t.ok(share > 0.15 && share < 0.45, `about 30% of requests faulted (${share})`);
  t.ok(new Set(kinds.filter((k) => k !== '-')).size >= 4, 'several kinds are chosen');

  t.throws(() => new FaultPlan({ rate: 1.5 }), { code: 'INVALID_OPTION' });
  t.throws(() => emulator.faults.add({ kind: 'explode' as '500' }), { code: 'INVALID_OPTION' });
});

t.test('rules match on method and path, run out after `times`, and can be removed', async (t) => {
  const plan = new FaultPlan();
  const remove = plan.add({ match: { method: 'post', path: /^\/v1\/batches$/ }, kind: '503', times: 2 });
  t.equal(plan.take('GET', '/v1/batches'), undefined, 'another method does not match');
  t.equal(plan.take('POST', '/v1/batches')?.kind, '503');
  t.equal(plan.take('POST', '/v1/batches/batch_1/cancel'), undefined, 'another path does not match');
  t.equal(plan.take('POST', '/v1/batches')?.kind, '503');
  t.equal(plan.take('POST', '/v1/batches'), undefined, 'spent after two');
  plan.add({ kind: '500', times: Infinity });
  t.equal(plan.take('GET', '/anything')?.kind, '500');
  t.equal(plan.take('GET', '/anything')?.kind, '500');
  plan.clear();
  t.equal(plan.take('GET', '/anything'), undefined);
  remove();
  const removable = plan.add({ kind: '429' });
  removable();
  t.equal(plan.take('GET', '/v1/files'), undefined, 'a removed rule gives nothing');
});

t.test('close() ends a slow reply in progress and frees the port', async (t) => {
  const { client, emulator } = await emulatorWithClient(t);
  const file = await client.files.create({ file: await jsonl(), purpose: 'batch' });
  emulator.faults.add({ match: { path: /\/content$/ }, kind: 'slow', delayMs: 10_000, chunkBytes: 1 });
  const raw = await request(`${emulator.url}/v1/files/${file.id}/content`);
  const reading = rejection(raw.body.text());
  const started = Date.now();
  await emulator.close();
  t.ok(Date.now() - started < 2000, 'close did not wait for the slow reply');
  t.ok(await reading, 'the client sees the reply cut');
  await t.rejects(fetch(`${emulator.url}/v1/files`), 'nothing listens any more');
});
