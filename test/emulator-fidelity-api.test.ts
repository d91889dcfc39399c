// Where the emulator follows the live service rather than the letter of the spec: file names,
// error bodies, the media endpoints and the embedding-input limit. Through the official SDK.
import t from 'tap';
import OpenAI, { toFile } from 'openai';
import { batchEmulator, fileLines, LONG_RUN_MS, pollWhile, request, runToEnd, uploadJsonl } from './helpers/batch-sdk.ts';
import { chatLines, rejection } from './helpers/emulator.ts';

const chat = '/v1/chat/completions';

t.test('a batch file sent as raw bytes (no extension in its name) is accepted; its content is checked when a batch is made', async (t) => {
  const { client, emulator } = await batchEmulator(t);
  // The Node SDK names raw bytes `unknown_file`; the Python SDK names them `upload`.
  const unnamed = await client.files.create({ file: await toFile(Buffer.from(chatLines(['a', 'b']))), purpose: 'batch' });
  t.equal(unnamed.filename, 'unknown_file');
  const garbage = await client.files.create({ file: await toFile(Buffer.from('this is not JSON\n'), 'upload'), purpose: 'batch' });
  t.equal(garbage.filename, 'upload');

  const good = await client.batches.create({ input_file_id: unnamed.id, endpoint: chat, completion_window: '24h' });
  t.equal((await runToEnd(emulator, client, good.id)).batch.status, 'completed');
  const bad = await client.batches.create({ input_file_id: garbage.id, endpoint: chat, completion_window: '24h' });
  const { batch } = await runToEnd(emulator, client, bad.id);
  t.match(batch, { status: 'failed', errors: { data: [{ code: 'invalid_json_line', line: 1 }] } });

  for (const name of ['input.csv', 'requests.txt', 'upload.json']) {
    const err = await rejection(client.files.create({ file: await toFile(Buffer.from(chatLines(['c'])), name), purpose: 'batch' }));
    t.match(err, { status: 400, code: 'invalid_file_format', param: 'file' }, `${name} is still refused`);
  }
  const upload = await client.uploads.create({ bytes: 10, filename: 'upload', mime_type: 'text/jsonl', purpose: 'batch' });
  t.equal(upload.status, 'pending', 'the Uploads API takes a name without an extension too');
  t.match(await rejection(client.uploads.create({ bytes: 10, filename: 'x.csv', mime_type: 'text/jsonl', purpose: 'batch' })), {
    status: 400,
    code: 'invalid_file_format',
  });
});

t.test('404, 409 and a missing key answer with null code and param; a malformed batch id is a 400 invalid_value', async (t) => {
  const { client, emulator } = await batchEmulator(t, { apiKey: 'sk-right' });
  const authed = new OpenAI({ baseURL: `${emulator.url}/v1`, apiKey: 'sk-right', maxRetries: 0 });
  const missing = await rejection(authed.batches.retrieve('batch_0123456789abcdef'));
  t.ok(missing instanceof OpenAI.NotFoundError);
  t.same(missing.error, { message: "No batch found with id 'batch_0123456789abcdef'.", type: 'invalid_request_error', param: null, code: null });

  const malformed = await rejection(authed.batches.retrieve('file-abc'));
  t.ok(malformed instanceof OpenAI.BadRequestError);
  t.same(malformed.error, {
    message: "Invalid 'batch_id': 'file-abc'. Expected an ID that begins with 'batch'.",
    type: 'invalid_request_error',
    param: 'batch_id',
    code: 'invalid_value',
  });
  t.match(await rejection(authed.batches.cancel('oops')), { status: 400, code: 'invalid_value', param: 'batch_id' });
  t.match(await rejection(authed.uploads.cancel('upload_nope')), { status: 404, code: null, param: null });

  const fileId = await uploadJsonl(authed, [request(chat, 'x', { model: 'm', messages: [] })]);
  const done = await authed.batches.create({ input_file_id: fileId, endpoint: chat, completion_window: '24h' });
  await runToEnd(emulator, authed, done.id);
  const conflict = await rejection(authed.batches.cancel(done.id));
  t.ok(conflict instanceof OpenAI.ConflictError);
  t.match(conflict.error, { type: 'invalid_request_error', param: null, code: null });

  const noKey = await fetch(`${emulator.url}/v1/batches`);
  t.equal(noKey.status, 401);
  t.match(await noKey.json(), { error: { code: null, param: null, type: 'invalid_request_error' } });
  t.match(await rejection(client.batches.list()), { status: 401, code: 'invalid_api_key' }, 'a wrong key keeps its code');
});

t.test('the media endpoints of spec v2.3.0 run as batches and answer in their own shapes', async (t) => {
  const { client, emulator } = await batchEmulator(t);
  const cases: Array<[string, Record<string, unknown>, (body: any) => void]> = [
    ['/v1/images/generations', { model: 'gpt-image-1', prompt: 'a lighthouse at dawn', n: 2, quality: 'low' }, (body) => {
      t.equal(body.data.length, 2, 'n images');
      t.ok(Buffer.from(body.data[0].b64_json, 'base64').subarray(1, 4).toString() === 'PNG', 'each a PNG');
      t.match(body, { created: Number, quality: 'low', size: '1024x1024', output_format: 'png' });
      t.equal(body.usage.output_tokens, 2 * 272, 'output tokens by image and quality');
      t.equal(body.usage.total_tokens, body.usage.input_tokens + body.usage.output_tokens);
    }],
    ['/v1/images/edits', { model: 'gpt-image-1', prompt: 'add a boat', images: [{ image_url: 'https://example.com/a.png' }] }, (body) => {
      t.equal(body.data.length, 1);
      t.match(body.usage, { input_tokens: Number, output_tokens: 4160 });
    }],
    ['/v1/videos', { model: 'sora-2', prompt: 'waves on a beach', seconds: '8', size: '1280x720' }, (body) => {
      t.match(body, { id: /^video_/, object: 'video', model: 'sora-2', status: 'completed', progress: 100, seconds: '8', size: '1280x720', error: null });
    }],
  ];
  for (const [endpoint, body, check] of cases) {
    const fileId = await uploadJsonl(client, [request(endpoint, 'only', body)]);
    const created = await client.batches.create({ input_file_id: fileId, endpoint: endpoint as typeof chat, completion_window: '24h' });
    t.equal(created.endpoint, endpoint);
    const { batch } = await runToEnd(emulator, client, created.id);
    t.match(batch, { status: 'completed', model: body.model, request_counts: { total: 1, completed: 1, failed: 0 } }, endpoint);
    const [line] = await fileLines(client, batch.output_file_id);
    t.equal(line.response?.status_code, 200);
    check(line.response?.body);
  }
});

t.test('an embeddings batch of more than 50,000 inputs in all fails; exactly 50,000 runs', async (t) => {
  const { client, emulator } = await batchEmulator(t);
  const inputs = (count: number) => Array.from({ length: count }, (_, i) => `text ${i}`);
  // 50 requests of 1,000 inputs: well under 50,000 requests, exactly 50,000 inputs.
  const lines = Array.from({ length: 50 }, (_, i) => request('/v1/embeddings', `e${i}`, { model: 'text-embedding-3-small', input: inputs(1000) }));
  const exact = await uploadJsonl(client, lines);
  const over = await uploadJsonl(client, [...lines, request('/v1/embeddings', 'one-more', { model: 'text-embedding-3-small', input: 'x' })]);

  const failed = await client.batches.create({ input_file_id: over, endpoint: '/v1/embeddings', completion_window: '24h' });
  const { batch } = await runToEnd(emulator, client, failed.id);
  t.match(batch, { status: 'failed', errors: { data: [{ code: 'too_many_embedding_inputs', line: 51, param: 'body.input' }] } });
  t.equal(batch.errors!.data!.length, 1);

  const fits = await client.batches.create({ input_file_id: exact, endpoint: '/v1/embeddings', completion_window: '24h' });
  emulator.clock.advance(LONG_RUN_MS / 10);
  const running = await pollWhile(client, fits.id, 'validating', []);
  t.match(running, { status: 'in_progress', errors: null, request_counts: { total: 50 } });
});
