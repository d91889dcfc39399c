import t, { type Test } from 'tap';
import { EmulatorHttpError } from '../src/emulator/http-error.ts';
import type { BatchStatus } from '../src/types.ts';
import { chatLine, chatLines, isAbsentFileId, putInput, readLines, runToEnd, startEngine, waitForStatus, TERMINAL, type EngineFixture } from './helpers/batch-fixtures.ts';

async function fixture(t: Test, options: Parameters<typeof startEngine>[0] = {}): Promise<EngineFixture> {
  const f = await startEngine(options);
  t.teardown(() => f.engine.close());
  return f;
}

function rejectsWith(t: Test, fn: () => unknown, status: number, param: string | null, name: string): Promise<void> {
  return (async () => {
    try {
      await fn();
      t.fail(`${name}: expected a ${status}`);
    } catch (err) {
      t.ok(err instanceof EmulatorHttpError, `${name}: an EmulatorHttpError`);
      t.match(err, { status, param }, name);
    }
  })();
}

t.test('create checks every parameter as the service does, naming the bad one', async (t) => {
  const { engine, store } = await fixture(t);
  const good = await putInput(store, chatLines(2));
  const notBatch = await putInput(store, chatLines(2), 'fine-tune');
  const base = { input_file_id: good, endpoint: '/v1/chat/completions', completion_window: '24h' };
  const cases: Array<[string, unknown, string | null]> = [
    ['not an object', 'x', null],
    ['missing input_file_id', { endpoint: base.endpoint, completion_window: '24h' }, 'input_file_id'],
    ['missing endpoint', { input_file_id: good, completion_window: '24h' }, 'endpoint'],
    ['missing completion_window', { input_file_id: good, endpoint: base.endpoint }, 'completion_window'],
    ['unknown file', { ...base, input_file_id: 'file-nope' }, 'input_file_id'],
    ['wrong purpose', { ...base, input_file_id: notBatch }, 'input_file_id'],
    ['unsupported endpoint', { ...base, endpoint: '/v1/audio/speech' }, 'endpoint'],
    ['48h window', { ...base, completion_window: '48h' }, 'completion_window'],
    ['17 metadata pairs', { ...base, metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, 'metadata'],
    ['65-char metadata key', { ...base, metadata: { ['k'.repeat(65)]: 'v' } }, 'metadata'],
    ['513-char metadata value', { ...base, metadata: { k: 'v'.repeat(513) } }, 'metadata.k'],
    ['non-string metadata value', { ...base, metadata: { k: 1 } }, 'metadata.k'],
    ['bad expiry anchor', { ...base, output_expires_after: { anchor: 'now', seconds: 3600 } }, 'output_expires_after.anchor'],
    ['expiry too short', { ...base, output_expires_after: { anchor: 'created_at', seconds: 3599 } }, 'output_expires_after.seconds'],
    ['expiry too long', { ...base, output_expires_after: { anchor: 'created_at', seconds: 2_592_001 } }, 'output_expires_after.seconds'],
    ['unknown parameter', { ...base, priority: 'high' }, 'priority'],
  ];
  for (const [name, params, param] of cases) await rejectsWith(t, () => engine.create(params), 400, param, name);
  const edge = await engine.create({
    ...base,
    metadata: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`${i}`.padEnd(64, 'k'), 'v'.repeat(512)])),
    output_expires_after: { anchor: 'created_at', seconds: 2_592_000 },
  });
  t.equal(Object.keys(edge.metadata ?? {}).length, 16, '16 pairs at the length limits are accepted');
  t.equal(engine.list().data.length, 1, 'no rejected create left a batch behind');
});

t.test('a new batch has the Batch object shape with every timestamp present', async (t) => {
  const { engine, store } = await fixture(t);
  const fileId = await putInput(store, chatLines(3));
  const batch = await engine.create({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { run: 'a' } });
  t.match(batch.id, /^batch_[0-9a-f]{32}$/);
  t.same(Object.keys(batch).sort(), [
    'cancelled_at', 'cancelling_at', 'completed_at', 'completion_window', 'created_at', 'endpoint', 'error_file_id', 'errors',
    'expired_at', 'expires_at', 'failed_at', 'finalizing_at', 'id', 'in_progress_at', 'input_file_id', 'metadata', 'model',
    'object', 'output_file_id', 'request_counts', 'status', 'usage',
  ]);
  t.match(batch, {
    object: 'batch', endpoint: '/v1/chat/completions', input_file_id: fileId, completion_window: '24h', status: 'validating',
    output_file_id: null, error_file_id: null, errors: null, in_progress_at: null, finalizing_at: null, completed_at: null,
    failed_at: null, expired_at: null, cancelling_at: null, cancelled_at: null, metadata: { run: 'a' },
    request_counts: { total: 0, completed: 0, failed: 0 },
  });
  t.equal(batch.expires_at, batch.created_at + 86_400);
  await rejectsWith(t, () => engine.retrieve('batch_nope'), 404, null, 'unknown id');
});

t.test('a valid batch runs validating → in_progress → finalizing → completed and answers every line once, shuffled', async (t) => {
  // The emulator clock drives the run: each status is seen for sure, however loaded the machine is.
  const { engine, store, clock } = await fixture(t, { batchDurationMs: 1_000_000 });
  const count = 60;
  const fileId = await putInput(store, chatLines(count));
  const created = await engine.create({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' });
  t.equal(engine.retrieve(created.id).status, 'validating');
  clock.advance(100_000);
  t.equal((await waitForStatus(engine, created.id, ['in_progress'])).batch.status, 'in_progress');
  clock.advance(800_000);
  const finalizing = await waitForStatus(engine, created.id, ['finalizing']);
  t.same(finalizing.batch.request_counts, { total: count, completed: count, failed: 0 });
  clock.advance(100_000);
  const { batch, seen } = await waitForStatus(engine, created.id, TERMINAL);
  t.same(seen, ['finalizing', 'completed']);
  t.equal(batch.status, 'completed');
  t.equal(batch.model, 'gpt-4o-mini');
  t.same(batch.request_counts, { total: count, completed: count, failed: 0 });
  t.ok(isAbsentFileId(batch.error_file_id), 'no error file when nothing failed');
  t.ok(batch.in_progress_at! >= batch.created_at && batch.finalizing_at! >= batch.in_progress_at! && batch.completed_at! >= batch.finalizing_at!);
  t.ok(batch.usage.input_tokens > 0 && batch.usage.output_tokens > 0);
  t.equal(batch.usage.total_tokens, batch.usage.input_tokens + batch.usage.output_tokens);
  const output = store.get(batch.output_file_id!);
  t.match(output, { purpose: 'batch_output', filename: `${batch.id}_output.jsonl` });
  const lines = await readLines(store, batch.output_file_id);
  const ids = lines.map((line) => line.custom_id);
  t.same([...ids].sort(), chatLines(count).map((line) => line.custom_id as string).sort(), 'every custom_id exactly once');
  t.not(ids.join(','), chatLines(count).map((line) => line.custom_id).join(','), 'not in input order');
  let inputTokens = 0;
  for (const line of lines) {
    t.match(line.id, /^batch_req_[0-9a-f]{32}$/);
    t.equal(line.error, null);
    t.match(line.response, { status_code: 200, request_id: /^req_/, body: { object: 'chat.completion', model: 'gpt-4o-mini' } });
    inputTokens += (line.response!.body as { usage: { prompt_tokens: number } }).usage.prompt_tokens;
  }
  t.equal(batch.usage.input_tokens, inputTokens, 'batch usage is the sum of the answers');
});

t.test('with real time alone a short batch goes through the statuses in order', async (t) => {
  const { engine, store } = await fixture(t, { batchDurationMs: 200 });
  const fileId = await putInput(store, chatLines(5));
  const created = await engine.create({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' });
  const { batch, seen } = await waitForStatus(engine, created.id, TERMINAL);
  t.equal(batch.status, 'completed');
  const order: BatchStatus[] = ['validating', 'in_progress', 'finalizing', 'completed'];
  t.same(seen, order.filter((status) => seen.includes(status)), `in order: ${seen.join(' → ')}`);
  t.ok(seen.includes('in_progress'), 'the run phase was seen, not just the end');
});

t.test('request_counts fill as the run goes', async (t) => {
  const { engine, store, clock } = await fixture(t, { batchDurationMs: 1_000_000 });
  const fileId = await putInput(store, chatLines(100));
  const created = await engine.create({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' });
  await waitForStatus(engine, created.id, ['validating']);
  clock.advance(100_000); // validation takes the first tenth
  const started = await waitForStatus(engine, created.id, ['in_progress']);
  t.ok(started.batch.request_counts.completed < 5, 'almost nothing done at the start');
  clock.advance(400_000); // half of the 800 s run
  const half = engine.retrieve(created.id);
  t.equal(half.status, 'in_progress');
  t.ok(half.request_counts.completed >= 49 && half.request_counts.completed <= 51, `about half done: ${half.request_counts.completed}`);
  t.equal(half.request_counts.total, 100);
  t.ok(half.usage.input_tokens > 0);
});

t.test('errorRate answers a deterministic share of lines with a 4xx in the error file', async (t) => {
  const run = async (seed: number) => {
    const fixture = await startEngine({ errorRate: 0.3, seed });
    const { engine, store } = fixture;
    try {
      const fileId = await putInput(store, chatLines(200));
      const created = await engine.create({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' });
      const { batch } = await runToEnd(fixture, created.id);
      return { batch, output: await readLines(store, batch.output_file_id), errors: await readLines(store, batch.error_file_id) };
    } finally {
      await engine.close();
    }
  };
  const first = await run(7);
  const again = await run(7);
  const other = await run(8);
  const failedIds = (r: typeof first) => r.errors.map((line) => line.custom_id).sort();
  t.equal(first.batch.status, 'completed');
  t.ok(first.errors.length > 30 && first.errors.length < 90, `about 30% failed: ${first.errors.length}`);
  t.same(first.batch.request_counts, { total: 200, completed: 200 - first.errors.length, failed: first.errors.length });
  t.equal(first.output.length + first.errors.length, 200);
  t.same(failedIds(first), failedIds(again), 'the same seed fails the same lines');
  t.notSame(failedIds(first), failedIds(other), 'another seed fails other lines');
  for (const line of first.errors) {
    t.equal(line.error, null, 'a rejected request carries its answer, not a batch error');
    t.match(line.response, { status_code: 400, body: { error: { type: 'invalid_request_error' } } });
  }
});

t.test('a batch whose every line fails ends completed with no output file', async (t) => {
  const f = await fixture(t, { errorRate: 1 });
  const fileId = await putInput(f.store, chatLines(5));
  const created = await f.engine.create({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' });
  const { batch } = await runToEnd(f, created.id);
  const store = f.store;
  t.equal(batch.status, 'completed');
  t.ok(isAbsentFileId(batch.output_file_id));
  t.equal((await readLines(store, batch.error_file_id)).length, 5);
  t.same(batch.request_counts, { total: 5, completed: 0, failed: 5 });
  t.equal(batch.usage.total_tokens, 0, 'rejected requests are not billed');
});

t.test('list pages newest first with limit and after', async (t) => {
  const { engine, store } = await fixture(t, { batchDurationMs: 1_000_000 });
  const fileId = await putInput(store, [chatLine('a')]);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    ids.push((await engine.create({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { i: `${i}` } })).id);
  }
  const newest = [...ids].reverse();
  const first = engine.list({ limit: 2 });
  t.match(first, { object: 'list', first_id: newest[0], last_id: newest[1], has_more: true });
  t.same(first.data.map((b) => b.id), newest.slice(0, 2));
  const second = engine.list({ limit: 2, after: first.last_id! });
  t.same(second.data.map((b) => b.id), newest.slice(2, 4));
  const third = engine.list({ limit: 2, after: second.last_id! });
  t.match(third, { first_id: newest[4], last_id: newest[4], has_more: false });
  t.same(engine.list().data.length, 5, 'default limit 20');
  t.same(engine.list({ after: newest[4] }), { object: 'list', data: [], first_id: null, last_id: null, has_more: false });
  for (const limit of [0, 101, 2.5]) await rejectsWith(t, () => engine.list({ limit }), 400, 'limit', `limit ${limit}`);
  await rejectsWith(t, () => engine.list({ after: 'batch_unknown' }), 400, 'after', 'unknown cursor');
});
