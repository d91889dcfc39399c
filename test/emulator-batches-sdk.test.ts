import OpenAI from 'openai';
import t from 'tap';
import { pollWhile, batchEmulator, fileLines, pollUntilDone, request, runToEnd, uploadJsonl } from './helpers/batch-sdk.ts';

const chat = '/v1/chat/completions';
const chatRequest = (id: string, model = 'gpt-4o-mini') => request(chat, id, { model, messages: [{ role: 'user', content: `question ${id}` }] });
const ids = (count: number, prefix: string) => Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`);

t.test('the notebook flow through the official SDK: upload, create, poll, list, cancel, read results', async (t) => {
  // A long run moved by the emulator clock: the cancel below always lands before the batch could finish.
  const { client, emulator } = await batchEmulator(t, { batchDurationMs: 1_000_000, errorRate: 0.2, seed: 3 });
  const goodIds = ids(40, 'good');
  const goodFile = await uploadJsonl(client, goodIds.map((id) => chatRequest(id)), 'good.jsonl');
  const badFile = await uploadJsonl(
    client,
    [chatRequest('a'), chatRequest('b'), chatRequest('a'), chatRequest('c'), '{"custom_id": "d", oops}', request('/v1/embeddings', 'e', { model: 'gpt-4o-mini', input: 'x' })],
    'bad.jsonl',
  );
  const good = await client.batches.create({ input_file_id: goodFile, endpoint: chat, completion_window: '24h', metadata: { run: 'nb-1', part: 'good' } });
  const bad = await client.batches.create({ input_file_id: badFile, endpoint: chat, completion_window: '24h', metadata: { run: 'nb-1', part: 'bad' } });
  const doomed = await client.batches.create({ input_file_id: goodFile, endpoint: chat, completion_window: '24h', metadata: { run: 'nb-1', part: 'cancel' } });
  t.equal(good.status, 'validating');
  t.same(good.metadata, { run: 'nb-1', part: 'good' });
  const cancelling = await client.batches.cancel(doomed.id);
  t.equal(cancelling.status, 'cancelling');
  // Emulator time in steps, so each status is seen through the SDK: a tenth validating, eight tenths running, a tenth finalizing.
  const seen: string[] = [];
  seen.push(good.status);
  emulator.clock.advance(100_000);
  await pollWhile(client, good.id, 'validating', seen);
  emulator.clock.advance(800_000);
  await pollWhile(client, good.id, 'in_progress', seen);
  emulator.clock.advance(100_000);
  const goodDone = await pollUntilDone(client, good.id);
  seen.push(...goodDone.seen.filter((status) => status !== seen[seen.length - 1]));
  t.same(seen, ['validating', 'in_progress', 'finalizing', 'completed'], 'every status, in order');
  t.equal(goodDone.batch.status, 'completed');
  const output = await fileLines(client, goodDone.batch.output_file_id);
  const errors = await fileLines(client, goodDone.batch.error_file_id);
  const answered = [...output, ...errors].map((line) => line.custom_id);
  t.same([...answered].sort(), [...goodIds].sort(), 'every custom_id answered exactly once');
  t.ok(errors.length > 0 && errors.length < 40, `some lines rejected: ${errors.length}`);
  t.same(goodDone.batch.request_counts, { total: 40, completed: output.length, failed: errors.length });
  t.ok(output.every((line) => line.response?.status_code === 200 && line.error === null));
  t.ok(errors.every((line) => line.response?.status_code === 400));

  const badDone = await pollUntilDone(client, bad.id);
  t.equal(badDone.batch.status, 'failed');
  t.same(
    badDone.batch.errors?.data?.map((e) => [e.code, e.line]),
    [['duplicate_custom_id', 3], ['invalid_json_line', 5], ['url_mismatch', 6]],
    'each bad line with its 1-based number',
  );

  const cancelled = await pollUntilDone(client, doomed.id);
  t.equal(cancelled.batch.status, 'cancelled');
  const cancelledErrors = await fileLines(client, cancelled.batch.error_file_id);
  const cancelledOutput = await fileLines(client, cancelled.batch.output_file_id);
  const notRun = cancelledErrors.filter((line) => line.error?.code === 'batch_cancelled');
  t.ok(notRun.length > 0, `requests not yet run are batch_cancelled: ${notRun.length}`);
  t.ok(cancelledErrors.every((line) => line.error?.code === 'batch_cancelled' || line.response?.status_code === 400));
  t.same([...cancelledErrors, ...cancelledOutput].map((line) => line.custom_id).sort(), [...goodIds].sort(), 'cancelled: every custom_id once');
  t.equal(cancelled.batch.request_counts?.failed, cancelledErrors.length);

  // Page through with the SDK's own cursor handling, one batch a page, and find ours by metadata.
  const found = new Map<string, string>();
  let pages = 0;
  let page = await client.batches.list({ limit: 1 });
  for (;;) {
    pages++;
    for (const batch of page.data) if (batch.metadata?.run === 'nb-1') found.set(batch.metadata.part, batch.id);
    if (!page.hasNextPage()) break;
    page = await page.getNextPage();
  }
  t.equal(pages, 3, 'three pages of one');
  t.same(Object.fromEntries(found), { good: good.id, bad: bad.id, cancel: doomed.id });
  const all: string[] = [];
  for await (const batch of client.batches.list({ limit: 2 })) all.push(batch.id);
  t.same(all, [doomed.id, bad.id, good.id], 'auto-pagination, newest first');
});

t.test('API errors reach the SDK with the service status, type and param', async (t) => {
  const { client, emulator } = await batchEmulator(t);
  const fileId = await uploadJsonl(client, [chatRequest('x')]);
  const badCreate = await client.batches
    .create({ input_file_id: fileId, endpoint: chat, completion_window: '48h' as '24h' })
    .catch((err: unknown) => err);
  t.ok(badCreate instanceof OpenAI.BadRequestError);
  t.match(badCreate, { status: 400, param: 'completion_window', type: 'invalid_request_error' });
  const metadata = await client.batches
    .create({ input_file_id: fileId, endpoint: chat, completion_window: '24h', metadata: { k: 'v'.repeat(513) } })
    .catch((err: unknown) => err);
  t.match(metadata, { status: 400, param: 'metadata.k' });
  const missing = await client.batches.retrieve('batch_does_not_exist').catch((err: unknown) => err);
  t.ok(missing instanceof OpenAI.NotFoundError);
  const done = await client.batches.create({ input_file_id: fileId, endpoint: chat, completion_window: '24h' });
  await runToEnd(emulator, client, done.id);
  const conflict = await client.batches.cancel(done.id).catch((err: unknown) => err);
  t.ok(conflict instanceof OpenAI.ConflictError, 'cancelling a completed batch is a 409');
  const badLimit = await client.batches.list({ limit: 101 }).catch((err: unknown) => err);
  t.match(badLimit, { status: 400, param: 'limit' });
});

t.test('each endpoint answers with its own response shape and usage', async (t) => {
  const { client, emulator } = await batchEmulator(t);
  const cases: Array<[string, Record<string, unknown>, (body: any) => void]> = [
    [chat, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hi' }], max_completion_tokens: 5 }, (body) => {
      t.match(body, { object: 'chat.completion', model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: String }, finish_reason: 'stop' }] });
      t.equal(body.usage.completion_tokens, 5, 'max_completion_tokens caps the answer');
      t.equal(body.usage.total_tokens, body.usage.prompt_tokens + body.usage.completion_tokens);
    }],
    ['/v1/responses', { model: 'gpt-4.1', input: 'Tell me a story' }, (body) => {
      t.match(body, { object: 'response', status: 'completed', output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: /Tell me a story/ }] }] });
      t.match(body.usage, { input_tokens: Number, output_tokens: Number, total_tokens: Number, input_tokens_details: { cached_tokens: 0 } });
    }],
    ['/v1/embeddings', { model: 'text-embedding-3-small', input: ['one', 'two', 'three'], dimensions: 16 }, (body) => {
      t.match(body, { object: 'list', model: 'text-embedding-3-small', usage: { prompt_tokens: Number, total_tokens: Number } });
      t.equal(body.data.length, 3);
      t.same(body.data.map((d: any) => d.index), [0, 1, 2]);
      t.ok(body.data.every((d: any) => d.object === 'embedding' && d.embedding.length === 16));
      const norm = Math.hypot(...body.data[0].embedding);
      t.ok(Math.abs(norm - 1) < 1e-3, 'unit length');
    }],
    ['/v1/completions', { model: 'gpt-3.5-turbo-instruct', prompt: 'Once upon' }, (body) => {
      t.match(body, { object: 'text_completion', choices: [{ text: String, index: 0, finish_reason: 'stop' }], usage: { prompt_tokens: Number } });
    }],
    ['/v1/moderations', { model: 'omni-moderation-latest', input: ['fine text', 'more text'] }, (body) => {
      t.match(body, { id: /^modr-/, model: 'omni-moderation-latest' });
      t.equal(body.results.length, 2);
      t.match(body.results[0], { flagged: false, categories: { violence: false }, category_scores: { violence: Number } });
      t.match(body.usage, { prompt_tokens: Number });
    }],
  ];
  for (const [endpoint, body, check] of cases) {
    const fileId = await uploadJsonl(client, [request(endpoint, 'only', body)]);
    const created = await client.batches.create({ input_file_id: fileId, endpoint: endpoint as typeof chat, completion_window: '24h' });
    const { batch } = await runToEnd(emulator, client, created.id);
    t.equal(batch.status, 'completed', `${endpoint} completed`);
    t.equal(batch.model, body.model);
    const [line] = await fileLines(client, batch.output_file_id);
    t.equal(line.custom_id, 'only');
    t.equal(line.response?.status_code, 200);
    check(line.response?.body);
    t.ok((batch.usage?.input_tokens ?? 0) > 0, `${endpoint}: batch usage`);
  }
});

t.test('answers are deterministic: the same request gets the same body in another batch', async (t) => {
  const { client, emulator } = await batchEmulator(t);
  const fileId = await uploadJsonl(client, [request('/v1/embeddings', 'same', { model: 'e', input: 'hello' })]);
  const bodies = [];
  for (let i = 0; i < 2; i++) {
    const created = await client.batches.create({ input_file_id: fileId, endpoint: '/v1/embeddings', completion_window: '24h' });
    const { batch } = await runToEnd(emulator, client, created.id);
    bodies.push((await fileLines(client, batch.output_file_id))[0].response?.body);
  }
  t.same(bodies[0], bodies[1]);
});

t.test('expiry, forced by a test or by emulator time, keeps partial results', async (t) => {
  const { client, emulator } = await batchEmulator(t, { batchDurationMs: 1_000_000 });
  const fileId = await uploadJsonl(client, ids(20, 'x').map((id) => chatRequest(id)));
  const forced = await client.batches.create({ input_file_id: fileId, endpoint: chat, completion_window: '24h' });
  const timed = await client.batches.create({ input_file_id: fileId, endpoint: chat, completion_window: '24h' });
  emulator.clock.advance(500_000); // both about half done once their input is checked
  t.equal((await pollWhile(client, forced.id, 'validating', [])).status, 'in_progress');
  t.equal((await pollWhile(client, timed.id, 'validating', [])).status, 'in_progress');
  await emulator.batches.expire(forced.id);
  const expired = await client.batches.retrieve(forced.id);
  t.equal(expired.status, 'expired');
  const done = expired.request_counts!.completed;
  t.ok(done > 0 && done < 20, `partial: ${done}`);
  t.equal((await fileLines(client, expired.output_file_id)).length, done);
  t.equal((await fileLines(client, expired.error_file_id)).filter((l) => l.error?.code === 'batch_expired').length, 20 - done);
  emulator.clock.advance(24 * 3600 * 1000);
  const { batch } = await pollUntilDone(client, timed.id);
  t.equal(batch.status, 'expired');
  t.equal(batch.expired_at, batch.expires_at);
});

t.test('the token limit fails a batch over it with token_limit_exceeded and no line', async (t) => {
  const { client, emulator } = await batchEmulator(t, { tokenLimit: 10 });
  const fileId = await uploadJsonl(client, [request(chat, 'big', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(400) }] })]);
  const created = await client.batches.create({ input_file_id: fileId, endpoint: chat, completion_window: '24h' });
  const { batch } = await runToEnd(emulator, client, created.id);
  t.equal(batch.status, 'failed');
  t.match(batch.errors?.data, [{ code: 'token_limit_exceeded', line: null }]);
});

t.test('with stateDir batches survive an emulator restart, results included', async (t) => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const stateDir = await mkdtemp(`${tmpdir()}/batchline-batches-sdk-`);
  t.teardown(() => rm(stateDir, { recursive: true, force: true }));
  const first = await batchEmulator(t, { stateDir });
  const fileId = await uploadJsonl(first.client, ids(10, 'p').map((id) => chatRequest(id)));
  const created = await first.client.batches.create({ input_file_id: fileId, endpoint: chat, completion_window: '24h', metadata: { keep: 'yes' } });
  await first.emulator.close();
  // The same clock: emulator time runs on across the restart, as the service's does.
  const second = await batchEmulator(t, { stateDir, clock: first.emulator.clock });
  const { batch } = await runToEnd(second.emulator, second.client, created.id);
  t.equal(batch.status, 'completed');
  t.same(batch.metadata, { keep: 'yes' });
  t.equal((await fileLines(second.client, batch.output_file_id)).length, 10);
  await second.emulator.close(); // before the teardown that removes its state directory
});
