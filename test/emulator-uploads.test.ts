import { createHash } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import OpenAI, { toFile } from 'openai';
import { startEmulator } from '../src/emulator/index.ts';
import { DiskFileStore } from '../src/emulator/store/disk-file-store.ts';
import { chatLines, emulatorWithClient, fetchJson, rejection, tempDir } from './helpers/emulator.ts';

const md5 = (data: string | Buffer) => createHash('md5').update(data).digest('hex');
const UPLOAD_KEYS = ['bytes', 'created_at', 'expires_at', 'file', 'filename', 'id', 'object', 'purpose', 'status'];

/** The input split into parts of at most `size` bytes. */
function split(text: string, size: number): Buffer[] {
  const bytes = Buffer.from(text);
  const parts: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) parts.push(bytes.subarray(at, at + size));
  return parts;
}

t.test('uploads a file in parts sent in parallel and completes it in order with its md5', async (t) => {
  const { client } = await emulatorWithClient(t);
  const text = chatLines(Array.from({ length: 50 }, (_, i) => `req-${i}`));
  const upload = await client.uploads.create({ bytes: Buffer.byteLength(text), filename: 'big.jsonl', mime_type: 'text/jsonl', purpose: 'batch' });
  t.same(Object.keys(upload).sort(), UPLOAD_KEYS);
  t.match(upload.id, /^upload_[0-9a-f]{24}$/);
  t.equal(upload.object, 'upload');
  t.equal(upload.status, 'pending');
  t.equal(upload.file, null);
  t.equal(upload.expires_at, upload.created_at + 3600);

  const chunks = split(text, 1000);
  const parts = await Promise.all(chunks.map(async (chunk, i) => client.uploads.parts.create(upload.id, { data: await toFile(chunk, `part-${i}`) })));
  for (const part of parts) {
    t.same(Object.keys(part).sort(), ['created_at', 'id', 'object', 'upload_id']);
    t.match(part.id, /^part_[0-9a-f]{24}$/);
    t.equal(part.object, 'upload.part');
    t.equal(part.upload_id, upload.id);
  }

  const done = await client.uploads.complete(upload.id, { part_ids: parts.map((p) => p.id), md5: md5(text) });
  t.equal(done.status, 'completed');
  t.equal(done.id, upload.id);
  t.ok(done.file, 'the completed upload carries its file');
  t.match(done.file!.id, /^file-/);
  t.equal(done.file!.bytes, Buffer.byteLength(text));
  t.equal(done.file!.filename, 'big.jsonl');
  t.equal(done.file!.purpose, 'batch');
  t.equal(done.file!.expires_at, done.file!.created_at + 30 * 24 * 3600, 'a batch file from an upload expires after 30 days too');
  t.equal(await (await client.files.content(done.file!.id)).text(), text);
  t.same((await client.files.list()).data.map((f) => f.id), [done.file!.id], 'the assembled file is a regular file');

  const again = await rejection(client.uploads.complete(upload.id, { part_ids: parts.map((p) => p.id) }));
  t.equal(again.status, 400);
  t.equal(again.error.code, 'upload_not_pending');
  const late = await rejection(client.uploads.parts.create(upload.id, { data: await toFile(Buffer.from('x'), 'late') }));
  t.equal(late.status, 400, 'no parts after completion');
});

t.test('assembles parts in the order complete names them, and refuses a wrong order that breaks the md5', async (t) => {
  const { client } = await emulatorWithClient(t);
  const text = chatLines(['first', 'second']);
  const [a, b] = split(text, Math.ceil(Buffer.byteLength(text) / 2));
  const upload = await client.uploads.create({ bytes: Buffer.byteLength(text), filename: 'two.jsonl', mime_type: 'text/jsonl', purpose: 'batch' });
  const partA = await client.uploads.parts.create(upload.id, { data: await toFile(a, 'a') });
  const partB = await client.uploads.parts.create(upload.id, { data: await toFile(b, 'b') });

  const wrong = await rejection(client.uploads.complete(upload.id, { part_ids: [partB.id, partA.id], md5: md5(text) }));
  t.equal(wrong.status, 400);
  t.equal(wrong.error.code, 'md5_mismatch');
  t.equal(wrong.error.param, 'md5');
  t.same((await client.files.list()).data, [], 'a failed md5 check creates no file');

  const done = await client.uploads.complete(upload.id, { part_ids: [partA.id, partB.id], md5: md5(text).toUpperCase() });
  t.equal(done.status, 'completed', 'the upload stays pending after a failed check and completes with the right order');
  t.equal(await (await client.files.content(done.file!.id)).text(), text);

  const swapped = await client.uploads.create({
    bytes: Buffer.byteLength(text),
    filename: 'swapped.jsonl',
    mime_type: 'text/jsonl',
    purpose: 'batch',
    expires_after: { anchor: 'created_at', seconds: 7200 },
  });
  const sA = await client.uploads.parts.create(swapped.id, { data: await toFile(a, 'a') });
  const sB = await client.uploads.parts.create(swapped.id, { data: await toFile(b, 'b') });
  const reordered = await client.uploads.complete(swapped.id, { part_ids: [sB.id, sA.id] });
  t.equal(reordered.file!.expires_at, reordered.file!.created_at + 7200, 'expires_after on the upload applies to its file');
  t.equal(await (await client.files.content(reordered.file!.id)).text(), Buffer.concat([b, a]).toString(), 'without md5 the named order is the file order');
});

t.test('refuses to complete when the parts do not add up to the declared bytes, or name foreign or repeated parts', async (t) => {
  const { client } = await emulatorWithClient(t);
  const upload = await client.uploads.create({ bytes: 10, filename: 'ten.jsonl', mime_type: 'text/jsonl', purpose: 'batch' });
  const part = await client.uploads.parts.create(upload.id, { data: await toFile(Buffer.from('12345'), 'p') });
  const short = await rejection(client.uploads.complete(upload.id, { part_ids: [part.id] }));
  t.equal(short.status, 400);
  t.equal(short.error.code, 'bytes_mismatch');
  const twice = await rejection(client.uploads.complete(upload.id, { part_ids: [part.id, part.id] }));
  t.equal(twice.error.code, 'duplicate_part_id');

  const other = await client.uploads.create({ bytes: 5, filename: 'other.jsonl', mime_type: 'text/jsonl', purpose: 'batch' });
  const foreign = await client.uploads.parts.create(other.id, { data: await toFile(Buffer.from('abcde'), 'p') });
  const mixed = await rejection(client.uploads.complete(upload.id, { part_ids: [part.id, foreign.id] }));
  t.equal(mixed.error.code, 'invalid_part_id');
  const missing = await rejection(client.uploads.complete(upload.id, {} as { part_ids: string[] }));
  t.equal(missing.error.param, 'part_ids');
  t.same((await client.files.list()).data, []);
});

t.test('checks purpose, filename, mime_type and size when an upload is created', async (t) => {
  const { client } = await emulatorWithClient(t, { limits: { maxUploadBytes: 1000 } });
  const base = { bytes: 10, filename: 'a.jsonl', mime_type: 'text/jsonl', purpose: 'batch' as const };
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['unknown purpose', { ...base, purpose: 'user_data' }, 'purpose'],
    ['not .jsonl for batch', { ...base, filename: 'a.csv' }, 'filename'],
    ['wrong mime_type for batch', { ...base, mime_type: 'image/png' }, 'mime_type'],
    ['missing mime_type', { ...base, mime_type: undefined }, 'mime_type'],
    ['negative bytes', { ...base, bytes: -1 }, 'bytes'],
    ['over the upload limit', { ...base, bytes: 1001 }, 'bytes'],
    ['missing filename', { ...base, filename: undefined }, 'filename'],
    ['expires_after too short', { ...base, expires_after: { anchor: 'created_at', seconds: 10 } }, 'expires_after.seconds'],
    ['expires_after with another anchor', { ...base, expires_after: { anchor: 'now', seconds: 3600 } }, 'expires_after.anchor'],
  ];
  for (const [name, body, param] of cases) {
    const err = await rejection(client.uploads.create(body as typeof base));
    t.equal(err.status, 400, name);
    t.equal(err.error.param, param, `${name} names ${param}`);
  }
  const vision = await client.uploads.create({ bytes: 3, filename: 'cat.png', mime_type: 'image/png', purpose: 'vision' });
  t.equal(vision.purpose, 'vision');
});

t.test('refuses a part over the part limit with 413 and a part that would overflow the upload', async (t) => {
  const { client } = await emulatorWithClient(t, { limits: { maxPartBytes: 100, maxUploadBytes: 150 } });
  const upload = await client.uploads.create({ bytes: 150, filename: 'p.jsonl', mime_type: 'text/jsonl', purpose: 'batch' });
  const tooBig = await rejection(client.uploads.parts.create(upload.id, { data: await toFile(Buffer.alloc(101, 'a'), 'big') }));
  t.equal(tooBig.status, 413);
  t.equal(tooBig.error.code, 'part_too_large');
  await client.uploads.parts.create(upload.id, { data: await toFile(Buffer.alloc(100, 'a'), 'ok') });
  const overflow = await rejection(client.uploads.parts.create(upload.id, { data: await toFile(Buffer.alloc(51, 'a'), 'over') }));
  t.equal(overflow.status, 413);
  t.equal(overflow.error.code, 'upload_too_large');
  const noData = new FormData();
  noData.append('other', 'x');
  const reply = await fetch(`${client.baseURL}/uploads/${upload.id}/parts`, { method: 'POST', body: noData });
  t.equal(reply.status, 400);
  t.equal(((await reply.json()) as any).error.param, 'data');
});

t.test('cancels a pending upload; nothing more can happen to it', async (t) => {
  const { client } = await emulatorWithClient(t);
  const upload = await client.uploads.create({ bytes: 3, filename: 'c.jsonl', mime_type: 'text/jsonl', purpose: 'batch' });
  const part = await client.uploads.parts.create(upload.id, { data: await toFile(Buffer.from('abc'), 'p') });
  const cancelled = await client.uploads.cancel(upload.id);
  t.equal(cancelled.status, 'cancelled');
  t.equal(cancelled.file, null);
  const late = await toFile(Buffer.from('d'), 'p');
  for (const attempt of [
    () => client.uploads.parts.create(upload.id, { data: late }),
    () => client.uploads.complete(upload.id, { part_ids: [part.id] }),
    () => client.uploads.cancel(upload.id),
  ]) {
    const err = await rejection(attempt());
    t.equal(err.status, 400);
    t.match(err.error.message, /cancelled/);
  }
  t.equal((await rejection(client.uploads.cancel('upload_nope'))).status, 404);
  t.equal((await rejection(client.uploads.parts.create('upload_nope', { data: await toFile(Buffer.from('d'), 'p') }))).status, 404);
});

t.test('expires a pending upload an hour later in emulator time', async (t) => {
  const { client, emulator } = await emulatorWithClient(t);
  const upload = await client.uploads.create({ bytes: 3, filename: 'e.jsonl', mime_type: 'text/jsonl', purpose: 'batch' });
  const part = await client.uploads.parts.create(upload.id, { data: await toFile(Buffer.from('abc'), 'p') });
  emulator.clock.advance(59 * 60 * 1000);
  t.equal(emulator.uploads.retrieve(upload.id).status, 'pending', 'still pending at 59 minutes');
  emulator.clock.advance(60 * 1000);
  const err = await rejection(client.uploads.complete(upload.id, { part_ids: [part.id] }));
  t.equal(err.status, 400);
  t.match(err.error.message, /expired/);
  t.equal(emulator.uploads.retrieve(upload.id).status, 'expired');
  t.same((await client.files.list()).data, []);
});

t.test('a pending upload and its parts survive a restart on the same state directory', async (t) => {
  const dir = await tempDir(t);
  const text = chatLines(['persist-1', 'persist-2']);
  const [a, b] = split(text, Math.ceil(Buffer.byteLength(text) / 2));
  const first = await startEmulator({ stateDir: dir });
  const upload = await fetchJson(`${first.url}/v1/uploads`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ bytes: Buffer.byteLength(text), filename: 'p.jsonl', mime_type: 'text/jsonl', purpose: 'batch' }),
  });
  const partIds: string[] = [];
  for (const chunk of [a, b]) {
    const form = new FormData();
    form.append('data', new Blob([chunk]), 'part');
    partIds.push((await fetchJson(`${first.url}/v1/uploads/${upload.id}/parts`, { method: 'POST', body: form })).id);
  }
  await first.close();

  const second = await startEmulator({ stateDir: dir });
  t.teardown(() => second.close());
  const done = await fetchJson(`${second.url}/v1/uploads/${upload.id}/complete`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ part_ids: partIds, md5: md5(text) }),
  });
  t.equal(done.status, 'completed');
  t.equal(await fetch(`${second.url}/v1/files/${done.file.id}/content`).then((r) => r.text()), text);
  t.same(await readdir(join(dir, 'upload-parts')), [], 'the parts are freed once the file exists');
});

t.test('with a state directory an upload becomes a file made of its parts, linked, not copied, and stays one across a restart', async (t) => {
  const dir = await tempDir(t);
  const text = chatLines(Array.from({ length: 30 }, (_, i) => `linked-${i}`));
  const chunks = split(text, Math.ceil(Buffer.byteLength(text) / 3));
  const first = await startEmulator({ stateDir: dir });
  const client = new OpenAI({ baseURL: `${first.url}/v1`, apiKey: 'k', maxRetries: 0 });
  const upload = await client.uploads.create({ bytes: Buffer.byteLength(text), filename: 'l.jsonl', mime_type: 'text/jsonl', purpose: 'batch' });
  const parts = [];
  for (const [i, chunk] of chunks.entries()) parts.push(await client.uploads.parts.create(upload.id, { data: await toFile(chunk, `p${i}`) }));
  const partIds = parts.map((p) => p.id);

  const wrong = await rejection(client.uploads.complete(upload.id, { part_ids: partIds, md5: md5('something else') }));
  t.equal(wrong.error.code, 'md5_mismatch');
  t.same((await readdir(join(dir, 'files'))).filter((name) => name.startsWith('file-')), [], 'a wrong md5 links nothing');

  const done = await client.uploads.complete(upload.id, { part_ids: partIds, md5: md5(text) });
  const fileId = done.file!.id;
  const names = (await readdir(join(dir, 'files'))).filter((name) => name.startsWith(fileId)).sort();
  t.same(names, [`${fileId}.body.0`, `${fileId}.body.1`, `${fileId}.body.2`, `${fileId}.json`], 'the parts, in order, are the body');
  t.same(await readdir(join(dir, 'upload-parts')), [], "the parts' own names are gone");
  t.equal(await (await client.files.content(fileId)).text(), text);
  // Links left by a file whose metadata never got written (a crash between the two) are swept at the next start.
  await writeFile(join(dir, 'files', 'file-halfway.body.0'), 'orphan');
  await first.close();

  const second = await startEmulator({ stateDir: dir });
  t.teardown(() => second.close());
  const again = new OpenAI({ baseURL: `${second.url}/v1`, apiKey: 'k', maxRetries: 0 });
  t.equal(await (await again.files.content(fileId)).text(), text, 'read back whole after a restart');
  t.notOk((await readdir(join(dir, 'files'))).includes('file-halfway.body.0'), 'orphan links are swept');
  await again.files.delete(fileId);
  t.same((await readdir(join(dir, 'files'))).filter((name) => name.startsWith(fileId)), [], 'deleting the file removes every segment');
});

t.test('where parts cannot be linked (another file system), the upload is copied into its file instead', async (t) => {
  const dir = await tempDir(t);
  const original = DiskFileStore.prototype.commitLinked;
  DiskFileStore.prototype.commitLinked = async () => {
    throw Object.assign(new Error('EXDEV: cross-device link not permitted'), { code: 'EXDEV' });
  };
  t.teardown(() => {
    DiskFileStore.prototype.commitLinked = original;
  });
  const emulator = await startEmulator({ stateDir: dir });
  t.teardown(() => emulator.close());
  const client = new OpenAI({ baseURL: `${emulator.url}/v1`, apiKey: 'k', maxRetries: 0 });
  const text = chatLines(['copied-1', 'copied-2']);
  const upload = await client.uploads.create({ bytes: Buffer.byteLength(text), filename: 'c.jsonl', mime_type: 'text/jsonl', purpose: 'batch' });
  const parts = [];
  for (const [i, chunk] of split(text, 40).entries()) parts.push(await client.uploads.parts.create(upload.id, { data: await toFile(chunk, `p${i}`) }));
  const done = await client.uploads.complete(upload.id, { part_ids: parts.map((p) => p.id), md5: md5(text) });
  t.ok((await readdir(join(dir, 'files'))).includes(`${done.file!.id}.body`), 'one body, written whole');
  t.equal(await (await client.files.content(done.file!.id)).text(), text);
});

t.test('a linked file whose segments cannot all be linked leaves nothing behind', async (t) => {
  const dir = await tempDir(t);
  const store = await DiskFileStore.open(dir);
  const existing = join(dir, 'source.part');
  await writeFile(existing, 'abc');
  const meta = { filename: 'x.jsonl', purpose: 'batch' };
  await t.rejects(store.commitLinked(meta, [existing, join(dir, 'missing.part')], 6), { code: 'ENOENT' });
  t.same((await readdir(dir)).sort(), ['source.part'], 'the first link is undone');
  await t.rejects(store.commitLinked(meta, [], 0), TypeError);
  t.same(store.list(), []);
});
