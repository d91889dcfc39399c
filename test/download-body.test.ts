/**
 * How a file's content travels: our own SDK instance reads it as the socket's
 * Node chunks (body-fetch.ts), a caller's own SDK instance through its own
 * fetch's web stream, a redirect through fetch; every way gives the same bytes
 * once, through faults.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import t from 'tap';
import type { EmulatorHandle } from '../src/emulator/index.ts';
import { bodyFetch, DIRECT_REQUEST, nodeBodyOf } from '../src/openai/body-fetch.ts';
import { ApiClient } from '../src/openai/client.ts';
import { downloadResults, type ResultChunk } from '../src/openai/results.ts';
import { rejection } from './helpers/emulator.ts';
import type { Teardown } from './helpers/temp.ts';
import { FAST_RETRY, KEY, transport, uploadText, type Transport } from './helpers/transport.ts';

const CONTENT = /\/v1\/files\/[^/]+\/content$/;

/** A shard-like file of `lines` JSON lines on the emulator, and its bytes. */
async function storedFile(env: Transport, lines: number): Promise<{ fileId: string; bytes: Buffer }> {
  const text = Array.from({ length: lines }, (_, i) => `${JSON.stringify({ n: i, pad: 'x'.repeat(i % 97) })}\n`).join('');
  const shard = await uploadText(env.client, env.dir, 0, text);
  return { fileId: shard.fileId, bytes: Buffer.from(text) };
}

/** A finished-looking batch naming `fileId` as its output, so downloadResults reads it. */
function batchWith(fileId: string) {
  return { id: 'batch_direct', object: 'batch', status: 'completed', output_file_id: fileId, error_file_id: null } as never;
}

async function downloaded(client: ApiClient, fileId: string, options = {}): Promise<Buffer> {
  const chunks: ResultChunk[] = [];
  for await (const chunk of downloadResults(client, batchWith(fileId), options)) chunks.push(chunk);
  return Buffer.concat(chunks.map((c) => c.data));
}

t.test('our client reads the content as Node chunks, and through truncated and reset bodies gets each byte once', async (t) => {
  const env = await transport(t);
  const { fileId, bytes } = await storedFile(env, 3000);
  const response = await env.client.sdk.files.content(fileId, DIRECT_REQUEST);
  t.ok(nodeBodyOf(response), 'the marked request kept its Node body');
  t.ok(Buffer.from(await response.arrayBuffer()).equals(bytes), 'the web stream over it reads the same bytes');
  const plain = await env.client.sdk.files.content(fileId);
  t.equal(nodeBodyOf(plain), undefined, 'an unmarked request goes through fetch');
  await plain.body?.cancel();
  for (const kind of ['truncate', 'reset-response'] as const) {
    env.emulator.faults.add({ kind, match: { path: CONTENT }, times: 2, fraction: 0.3 });
    t.ok((await downloaded(env.client, fileId)).equals(bytes), `${kind}: the exact bytes`);
  }
});

t.test("a caller's own SDK instance reads the content through its fetch's web stream, faults included", async (t) => {
  const env = await transport(t);
  const { fileId, bytes } = await storedFile(env, 3000);
  const own = new ApiClient({ client: new OpenAI({ apiKey: KEY, baseURL: `${env.emulator.url}/v1` }), retry: FAST_RETRY });
  env.emulator.faults.add({ kind: 'truncate', match: { path: CONTENT }, fraction: 0.5 });
  env.emulator.faults.add({ kind: 'reset-response', match: { path: CONTENT }, fraction: 0.2 });
  t.ok((await downloaded(own, fileId)).equals(bytes));
  t.equal(env.emulator.faults.injected.length, 2);
});

/** A front on a free port that answers every request with a 307 to the emulator. */
async function redirectingFront(t: Teardown, emulator: EmulatorHandle): Promise<string> {
  const server = createServer((req, res) => {
    res.writeHead(307, { location: `${emulator.url}${req.url}` });
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

t.test('a redirected content request is followed by fetch; an error status keeps its message', async (t) => {
  const env = await transport(t);
  const { fileId, bytes } = await storedFile(env, 500);
  const front = await redirectingFront(t, env.emulator);
  const redirected = new ApiClient({ apiKey: KEY, baseURL: `${front}/v1`, retry: FAST_RETRY });
  t.ok((await downloaded(redirected, fileId)).equals(bytes), 'the same bytes from where the redirect points');
  const err = await rejection(downloaded(env.client, 'file-missing', { verifySize: false }));
  t.match(err, { code: 'API_NOT_FOUND', status: 404, attempts: 1, fileId: 'file-missing' });
  t.match(err.message, /No such File object/, "the server's message, read through the Node body");
});

t.test('the fetch hands FormData to Node fetch and everything unmarked to the undici package', async (t) => {
  const env = await transport(t);
  const form = new FormData();
  form.append('purpose', 'batch');
  form.append('file', new Blob(['{"a":1}\n']), 'tiny.jsonl');
  const stored = await bodyFetch(`${env.emulator.url}/v1/files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${KEY}` } });
  t.match(await stored.json(), { object: 'file', bytes: 8, filename: 'tiny.jsonl' });
  const listed = await bodyFetch(`${env.emulator.url}/v1/files`, { headers: { authorization: `Bearer ${KEY}` } });
  t.equal(nodeBodyOf(listed), undefined);
  t.match(await listed.json(), { object: 'list' });
  t.equal(bodyFetch.Response, Response, "the SDK's FormData check builds Node's own Response");
});
