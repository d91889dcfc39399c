import { createReadStream } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { toFile } from 'openai';
import { startEmulator } from '../src/emulator/index.ts';
import { chatLines, emulatorWithClient, fetchJson, rejection, tempDir } from './helpers/emulator.ts';

const FILE_KEYS = ['bytes', 'created_at', 'expires_at', 'filename', 'id', 'object', 'purpose', 'status', 'status_details'];

t.test('uploads a good and a bad input file as the seed notebook does, then retrieves, lists, reads and deletes them', async (t) => {
  const { client } = await emulatorWithClient(t);
  const dir = await tempDir(t);
  const good = chatLines(['request-1', 'request-2', 'request-3']);
  const bad = '{"custom_id": "request-1", "method": "POST"\nnot json at all\n';
  await writeFile(join(dir, 'goodbatchinput.jsonl'), good);
  await writeFile(join(dir, 'badbatchinput.jsonl'), bad);

  const badFile = await client.files.create({ file: createReadStream(join(dir, 'badbatchinput.jsonl')), purpose: 'batch' });
  const goodFile = await client.files.create({ file: createReadStream(join(dir, 'goodbatchinput.jsonl')), purpose: 'batch' });

  t.same(Object.keys(goodFile).sort(), FILE_KEYS, 'the File object has exactly the spec fields');
  t.match(goodFile.id, /^file-[0-9a-f]{24}$/);
  t.equal(goodFile.object, 'file');
  t.equal(goodFile.bytes, Buffer.byteLength(good));
  t.equal(goodFile.filename, 'goodbatchinput.jsonl');
  t.equal(goodFile.purpose, 'batch');
  t.equal(goodFile.status, 'processed');
  t.equal(goodFile.status_details, null);
  t.equal(goodFile.expires_at, goodFile.created_at + 30 * 24 * 3600, 'batch files expire after 30 days by default');
  t.equal(badFile.bytes, Buffer.byteLength(bad), 'the Files API stores a malformed JSONL file as it is');
  t.not(badFile.id, goodFile.id);

  t.same(await client.files.retrieve(goodFile.id), goodFile);

  const listed = await client.files.list();
  t.same(listed.data.map((f) => f.id), [goodFile.id, badFile.id], 'newest first');

  const content = await client.files.content(goodFile.id);
  t.equal(content.headers.get('content-length'), String(Buffer.byteLength(good)));
  t.equal(await content.text(), good);
  t.equal(await (await client.files.content(badFile.id)).text(), bad);

  t.same(await client.files.delete(badFile.id), { id: badFile.id, object: 'file', deleted: true });
  const gone = await rejection(client.files.retrieve(badFile.id));
  t.equal(gone.status, 404);
  t.same(gone.error, { message: `No such File object: ${badFile.id}`, type: 'invalid_request_error', param: 'id', code: null });
  t.equal((await rejection(client.files.content(badFile.id))).status, 404);
  t.equal((await rejection(client.files.delete(badFile.id))).status, 404, 'a second delete is a 404');
  t.same((await client.files.list()).data.map((f) => f.id), [goodFile.id]);
});

t.test('lists with purpose, order, limit and the after cursor', async (t) => {
  const { client, emulator } = await emulatorWithClient(t);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const purpose = i % 2 === 0 ? 'batch' : 'user_data';
    ids.push((await client.files.create({ file: await toFile(Buffer.from(chatLines([`r${i}`])), `f${i}.jsonl`), purpose })).id);
  }
  const page = await fetchJson(`${emulator.url}/v1/files?order=asc&limit=2`);
  t.same(page.data.map((f: { id: string }) => f.id), ids.slice(0, 2));
  t.equal(page.object, 'list');
  t.equal(page.first_id, ids[0]);
  t.equal(page.last_id, ids[1]);
  t.equal(page.has_more, true);
  const next = await fetchJson(`${emulator.url}/v1/files?order=asc&limit=2&after=${page.last_id}`);
  t.same(next.data.map((f: { id: string }) => f.id), ids.slice(2, 4));

  const all: string[] = [];
  for await (const file of client.files.list({ limit: 2, order: 'asc' })) all.push(file.id);
  t.same(all, ids, 'the SDK auto-paginates through every file');

  const batchOnly = await client.files.list({ purpose: 'batch' });
  t.same(batchOnly.data.map((f) => f.id), [ids[4], ids[2], ids[0]]);

  const empty = await fetchJson(`${emulator.url}/v1/files?purpose=vision`);
  t.same(empty, { object: 'list', data: [], first_id: null, last_id: null, has_more: false });
  t.equal((await fetch(`${emulator.url}/v1/files?limit=0`)).status, 400);
  t.equal((await fetch(`${emulator.url}/v1/files?order=sideways`)).status, 400);
});

t.test('rejects a purpose that is missing or not in the spec', async (t) => {
  const { client, emulator } = await emulatorWithClient(t);
  const wrong = await rejection(client.files.create({ file: await toFile(Buffer.from('{}\n'), 'a.jsonl'), purpose: 'karaoke' as 'batch' }));
  t.equal(wrong.status, 400);
  t.equal(wrong.error.param, 'purpose');
  t.equal(wrong.error.code, 'invalid_value');

  const form = new FormData();
  form.append('file', new Blob(['{}\n']), 'a.jsonl');
  const missing = await fetch(`${emulator.url}/v1/files`, { method: 'POST', body: form });
  t.equal(missing.status, 400);
  t.equal(((await missing.json()) as any).error.param, 'purpose');

  const noFile = new FormData();
  noFile.append('purpose', 'batch');
  const noFileReply = await fetch(`${emulator.url}/v1/files`, { method: 'POST', body: noFile });
  t.equal(noFileReply.status, 400);
  t.equal(((await noFileReply.json()) as any).error.param, 'file');

  const notMultipart = await fetch(`${emulator.url}/v1/files`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  t.equal(notMultipart.status, 400);
  t.same((await client.files.list()).data, [], 'no rejected upload left a file behind');
});

t.test('accepts the other purposes the spec lists', async (t) => {
  const { client } = await emulatorWithClient(t);
  for (const purpose of ['assistants', 'fine-tune', 'vision', 'user_data', 'evals'] as const) {
    const file = await client.files.create({ file: await toFile(Buffer.from('{"a":1}\n'), 'x.jsonl'), purpose });
    t.equal(file.purpose, purpose);
    t.equal(file.expires_at, null, `${purpose} files do not expire by default`);
  }
});

t.test('requires .jsonl for batch files, not for user_data', async (t) => {
  const { client } = await emulatorWithClient(t);
  const err = await rejection(client.files.create({ file: await toFile(Buffer.from(chatLines(['a'])), 'input.csv'), purpose: 'batch' }));
  t.equal(err.status, 400);
  t.equal(err.error.code, 'invalid_file_format');
  const notes = await client.files.create({ file: await toFile(Buffer.from('plain text'), 'notes.txt'), purpose: 'user_data' });
  t.equal(notes.filename, 'notes.txt');
  t.same((await client.files.list()).data.map((f) => f.id), [notes.id]);
});

t.test('refuses a file over the size limit with 413 and keeps nothing of it', async (t) => {
  const dir = await tempDir(t);
  const { client } = await emulatorWithClient(t, { stateDir: dir, limits: { maxFileBytes: 1024 } });
  const justFits = await client.files.create({ file: await toFile(Buffer.alloc(1024, 'a'), 'fits.jsonl'), purpose: 'batch' });
  t.equal(justFits.bytes, 1024);
  const err = await rejection(client.files.create({ file: await toFile(Buffer.alloc(64 * 1024, 'a'), 'big.jsonl'), purpose: 'batch' }));
  t.equal(err.status, 413);
  t.equal(err.error.code, 'file_too_large');
  t.same((await client.files.list()).data.map((f) => f.id), [justFits.id]);
  const onDisk = (await readdir(join(dir, 'files'))).sort();
  t.same(onDisk, [`${justFits.id}.body`, `${justFits.id}.json`], 'no staged bytes of the refused file stay on disk');
});

t.test('rejects an empty file', async (t) => {
  const { client } = await emulatorWithClient(t);
  const err = await rejection(client.files.create({ file: await toFile(Buffer.alloc(0), 'empty.jsonl'), purpose: 'batch' }));
  t.equal(err.status, 400);
  t.equal(err.error.code, 'empty_file');
});

t.test('honours expires_after and hides a file once emulator time passes it', async (t) => {
  const { client, emulator } = await emulatorWithClient(t);
  const file = await client.files.create({
    file: await toFile(Buffer.from(chatLines(['a'])), 'short.jsonl'),
    purpose: 'batch',
    expires_after: { anchor: 'created_at', seconds: 3600 },
  });
  t.equal(file.expires_at, file.created_at + 3600);
  emulator.clock.advance(3601 * 1000);
  t.equal((await rejection(client.files.retrieve(file.id))).status, 404);
  t.same((await client.files.list()).data, []);
  const tooShort = await rejection(
    client.files.create({ file: await toFile(Buffer.from('{}\n'), 'x.jsonl'), purpose: 'batch', expires_after: { anchor: 'created_at', seconds: 60 } }),
  );
  t.equal(tooShort.status, 400);
  t.equal(tooShort.error.param, 'expires_after.seconds');
});

t.test('streams a multi-megabyte file in and out byte for byte', async (t) => {
  const { client } = await emulatorWithClient(t);
  const line = Buffer.from(chatLines(['x'.repeat(40)]));
  const body = Buffer.concat(Array.from({ length: 20_000 }, () => line));
  const file = await client.files.create({ file: await toFile(body, 'large.jsonl'), purpose: 'batch' });
  t.equal(file.bytes, body.length);
  const back = Buffer.from(await (await client.files.content(file.id)).arrayBuffer());
  t.ok(back.equals(body), `${body.length} bytes came back unchanged`);
});

t.test('answers an unknown route or method with a 404 in the error shape', async (t) => {
  const { emulator } = await emulatorWithClient(t);
  for (const [method, path] of [['GET', '/v1/nothing'], ['PUT', '/v1/files'], ['GET', '/'], ['POST', '/v1/files/file-x/content']]) {
    const reply = await fetch(`${emulator.url}${path}`, { method });
    t.equal(reply.status, 404, `${method} ${path}`);
    t.same(await reply.json(), { error: { message: `Invalid URL (${method} ${path.replace(/\/$/, '') || '/'})`, type: 'invalid_request_error', param: null, code: null } });
  }
  t.equal((await fetch(`${emulator.url}/v1/files/%E0%A4%A`)).status, 400, 'a malformed escape in an id is a 400, not a crash');
});

t.test('files and batches survive a close and restart on the same state directory', async (t) => {
  const dir = await tempDir(t);
  const first = await startEmulator({ stateDir: dir, batchDurationMs: 60_000 });
  const form = new FormData();
  form.append('purpose', 'batch');
  form.append('file', new Blob([chatLines(['keep-1', 'keep-2'])]), 'kept.jsonl');
  const created = await fetchJson(`${first.url}/v1/files`, { method: 'POST', body: form });
  const batch = await fetchJson(`${first.url}/v1/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input_file_id: created.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { run: 'restart' } }),
  });
  t.match(batch.id, /^batch_/);
  await first.close();
  await first.close();

  const second = await startEmulator({ stateDir: dir });
  t.teardown(() => second.close());
  t.same(await fetchJson(`${second.url}/v1/files/${created.id}`), created);
  t.equal(await fetch(`${second.url}/v1/files/${created.id}/content`).then((r) => r.text()), chatLines(['keep-1', 'keep-2']));
  const list = await fetchJson(`${second.url}/v1/files`);
  t.same(list.data.map((f: { id: string }) => f.id), [created.id]);
  const restored = await fetchJson(`${second.url}/v1/batches/${batch.id}`);
  t.equal(restored.input_file_id, created.id);
  t.same(restored.metadata, { run: 'restart' });
});

t.test('routes the batch calls to the engine', async (t) => {
  const { client } = await emulatorWithClient(t, { batchDurationMs: 60_000 });
  const input = await client.files.create({ file: await toFile(Buffer.from(chatLines(['q1', 'q2'])), 'in.jsonl'), purpose: 'batch' });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    ids.push((await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { n: String(i) } })).id);
  }
  const { data: running, response } = await client.batches.retrieve(ids[0]).withResponse();
  t.equal(running.id, ids[0]);
  t.equal(response.headers.get('openai-poll-after-ms'), null, 'no poll hint unless pollAfterMs asks for one');

  const page = await client.batches.list({ limit: 2 });
  t.same(page.data.map((b) => b.id), [ids[2], ids[1]]);
  t.equal(page.has_more, true);
  const rest = await client.batches.list({ limit: 2, after: ids[1] });
  t.same(rest.data.map((b) => b.id), [ids[0]]);
  t.equal((await rejection(client.batches.list({ limit: 0 }))).status, 400);

  const cancelled = await client.batches.cancel(ids[0]);
  t.match(cancelled.status, /^cancel/);
  t.equal((await rejection(client.batches.retrieve('batch_missing'))).status, 404);
  const bad = await rejection(client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '48h' as '24h' }));
  t.equal(bad.status, 400);
  const notJson = await fetch(`${client.baseURL}/batches`, { method: 'POST', body: '{oops', headers: { 'content-type': 'application/json' } });
  t.equal(notJson.status, 400);
  t.match(((await notJson.json()) as any).error.message, /could not parse the JSON body/);
});
