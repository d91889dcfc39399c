import t, { type Test } from 'tap';
import { EmulatorHttpError } from '../src/emulator/http-error.ts';
import { chatLine, chatLines, isAbsentFileId, putInput, readLines, runToEnd, startEngine, waitForStatus, TERMINAL } from './helpers/batch-fixtures.ts';

const endpoint = '/v1/chat/completions';
// A long run on the emulator clock: nothing moves unless the test moves the clock.
const LONG = 1_000_000;

/** Every custom_id of the input answered exactly once across the two files. */
function answeredOnce(t: Test, ids: string[], count: number): void {
  t.equal(ids.length, count, 'one line per request');
  t.equal(new Set(ids).size, count, 'no custom_id twice');
}

t.test('cancel mid-run: cancelling for cancelDurationMs, then cancelled, done lines kept, the rest batch_cancelled', async (t) => {
  const { engine, store, clock } = await startEngine({ batchDurationMs: LONG, cancelDurationMs: 300_000 });
  t.teardown(() => engine.close());
  const fileId = await putInput(store, chatLines(100));
  const created = await engine.create({ input_file_id: fileId, endpoint, completion_window: '24h' });
  await waitForStatus(engine, created.id, ['validating']);
  clock.advance(100_000);
  await waitForStatus(engine, created.id, ['in_progress']);
  clock.advance(200_000); // a quarter of the run
  const cancelling = await engine.cancel(created.id);
  t.equal(cancelling.status, 'cancelling');
  t.ok(cancelling.cancelling_at !== null && cancelling.cancelled_at === null);
  const done = cancelling.request_counts.completed;
  t.ok(done >= 24 && done <= 26, `about a quarter done: ${done}`);
  t.equal((await engine.cancel(created.id)).status, 'cancelling', 'cancelling again is harmless');
  clock.advance(299_000);
  const still = await engine.cancel(created.id);
  t.equal(still.status, 'cancelling', 'a cancel retried within cancelDurationMs meets cancelling');
  t.equal(still.output_file_id, null, 'no result file shows before the batch has ended');
  clock.advance(1_000);
  const { batch } = await waitForStatus(engine, created.id, TERMINAL);
  t.equal(batch.status, 'cancelled');
  t.ok(batch.cancelled_at! >= batch.cancelling_at!);
  t.same(batch.request_counts, { total: 100, completed: done, failed: 100 - done });
  const output = await readLines(store, batch.output_file_id);
  const errors = await readLines(store, batch.error_file_id);
  t.equal(output.length, done);
  t.ok(errors.every((line) => line.response === null && line.error?.code === 'batch_cancelled'));
  answeredOnce(t, [...output, ...errors].map((line) => line.custom_id), 100);
  try {
    await engine.cancel(created.id);
    t.fail('cancelling a cancelled batch must fail');
  } catch (err) {
    t.ok(err instanceof EmulatorHttpError);
    t.match(err, { status: 409, message: /cancelled/, code: null, param: null });
  }
});

t.test('cancel while validating ends cancelled with every line batch_cancelled', async (t) => {
  const { engine, store, clock } = await startEngine({ batchDurationMs: LONG });
  t.teardown(() => engine.close());
  const fileId = await putInput(store, chatLines(10));
  const created = await engine.create({ input_file_id: fileId, endpoint, completion_window: '24h' });
  t.equal((await engine.cancel(created.id)).status, 'cancelling');
  // A cancel settles cancelDurationMs (by default half the batch duration) after it was asked: move the clock rather than wait.
  clock.advance(LONG / 2);
  const { batch } = await waitForStatus(engine, created.id, TERMINAL);
  t.equal(batch.status, 'cancelled');
  t.equal(batch.in_progress_at, null, 'it never ran');
  t.same(batch.request_counts, { total: 10, completed: 0, failed: 10 });
  t.ok(isAbsentFileId(batch.output_file_id));
  const errors = await readLines(store, batch.error_file_id);
  t.ok(errors.length === 10 && errors.every((line) => line.error?.code === 'batch_cancelled'));
});

t.test('cancel of a completed batch is a 409', async (t) => {
  const fixture = await startEngine();
  const { engine, store } = fixture;
  t.teardown(() => engine.close());
  const fileId = await putInput(store, chatLines(3));
  const created = await engine.create({ input_file_id: fileId, endpoint, completion_window: '24h' });
  t.equal((await runToEnd(fixture, created.id)).batch.status, 'completed');
  await t.rejects(engine.cancel(created.id), { status: 409, message: "Cannot cancel a batch with status 'completed'." });
  await t.rejects(engine.cancel('batch_unknown'), { status: 404, message: /batch_unknown/ });
});

t.test('expire(id) ends a running batch expired with partial results and batch_expired errors', async (t) => {
  const { engine, store, clock } = await startEngine({ batchDurationMs: LONG });
  t.teardown(() => engine.close());
  const fileId = await putInput(store, chatLines(40));
  const created = await engine.create({ input_file_id: fileId, endpoint, completion_window: '24h' });
  clock.advance(100_000);
  await waitForStatus(engine, created.id, ['in_progress']);
  clock.advance(400_000);
  const batch = await engine.expire(created.id);
  t.equal(batch.status, 'expired');
  t.ok(batch.expired_at !== null);
  const done = batch.request_counts.completed;
  t.ok(done >= 19 && done <= 21, `half done: ${done}`);
  t.same(batch.request_counts, { total: 40, completed: done, failed: 40 - done });
  const output = await readLines(store, batch.output_file_id);
  const errors = await readLines(store, batch.error_file_id);
  t.equal(output.length, done);
  t.ok(errors.every((line) => line.error?.code === 'batch_expired' && line.response === null));
  answeredOnce(t, [...output, ...errors].map((line) => line.custom_id), 40);
  await t.rejects(engine.expire(created.id), { status: 409, message: /expired/ });
});

t.test('a batch expires by itself when emulator time passes its 24 h window', async (t) => {
  const { engine, store, clock } = await startEngine({ batchDurationMs: 200_000_000 });
  t.teardown(() => engine.close());
  const fileId = await putInput(store, chatLines(10));
  const created = await engine.create({ input_file_id: fileId, endpoint, completion_window: '24h' });
  clock.advance(20_000_001);
  await waitForStatus(engine, created.id, ['in_progress']);
  clock.advance(86_400_000);
  const { batch } = await waitForStatus(engine, created.id, TERMINAL);
  t.equal(batch.status, 'expired');
  t.equal(batch.expired_at, batch.expires_at, 'expired at the end of its window');
  t.equal((await readLines(store, batch.error_file_id)).length + (await readLines(store, batch.output_file_id)).length, 10);
});

t.test('the enqueued-token limit fails a batch that would pass it, per model', async (t) => {
  const { engine, store, clock } = await startEngine({ batchDurationMs: LONG, tokenLimit: 100 });
  t.teardown(() => engine.close());
  const text = 'x'.repeat(160); // 40 tokens a line
  const small = await putInput(store, [chatLine('a', text), chatLine('b', text)]);
  const other = await putInput(store, [chatLine('a', text, 'gpt-4o'), chatLine('b', text, 'gpt-4o')]);
  const huge = await putInput(store, [chatLine('a', text), chatLine('b', text), chatLine('c', text)]);
  const create = (fileId: string) => engine.create({ input_file_id: fileId, endpoint, completion_window: '24h' });
  const alone = await create(huge);
  clock.advance(100_000);
  const failed = await waitForStatus(engine, alone.id, TERMINAL);
  t.match(failed.batch, { status: 'failed', errors: { object: 'list', data: [{ code: 'token_limit_exceeded', line: null, param: null }] } });
  t.match(failed.batch.errors!.data[0].message, /gpt-4o-mini/);
  t.ok(failed.batch.failed_at !== null && failed.batch.in_progress_at === null);

  const first = await create(small);
  clock.advance(100_000);
  await waitForStatus(engine, first.id, ['in_progress']);
  const second = await create(small);
  const otherModel = await create(other);
  clock.advance(100_000);
  t.match((await waitForStatus(engine, second.id, TERMINAL)).batch, { status: 'failed', errors: { data: [{ code: 'token_limit_exceeded' }] } });
  t.equal((await waitForStatus(engine, otherModel.id, ['in_progress'])).batch.status, 'in_progress', 'another model has its own limit');
  clock.advance(1_000_000);
  t.equal((await waitForStatus(engine, first.id, TERMINAL)).batch.status, 'completed');
  const third = await create(small);
  clock.advance(1_000_000);
  t.equal((await waitForStatus(engine, third.id, TERMINAL)).batch.status, 'completed', 'room again once the first finished');
});
