import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { BatchEngine } from '../src/emulator/batches/engine.ts';
import { EmulatorClock } from '../src/emulator/clock.ts';
import type { FileMeta, GeneratedBody } from '../src/emulator/store/file-store.ts';
import { tempDir } from './helpers/temp.ts';
import { chatLines, isAbsentFileId, LONG_RUN_MS, putInput, readLines, runToEnd, startEngine, waitForStatus, TERMINAL } from './helpers/batch-fixtures.ts';

const endpoint = '/v1/chat/completions';

t.test('with stateDir a batch that was running when the engine stopped finishes after a restart', async (t) => {
  const stateDir = await tempDir(t);
  const first = await startEngine({ stateDir });
  const fileId = await putInput(first.store, chatLines(30));
  const done = await first.engine.create({ input_file_id: fileId, endpoint, completion_window: '24h', metadata: { run: 'done' } });
  await runToEnd(first, done.id);
  const running = await first.engine.create({ input_file_id: fileId, endpoint, completion_window: '24h', metadata: { run: 'running' } });
  first.clock.advance(LONG_RUN_MS / 2);
  const halfway = await waitForStatus(first.engine, running.id, ['in_progress']);
  t.ok(halfway.batch.request_counts.completed > 0, 'it had begun answering when the engine stopped');
  await first.engine.close();
  const before = first.engine.retrieve(done.id);
  t.same((await readdir(path.join(stateDir, 'batches'))).sort(), [`${done.id}.json`, `${running.id}.json`].sort(), 'one record per batch, no temp files');

  // The restarted engine shares the clock (its time went on while it was down) but not the file store's memory.
  const second = await startEngine({ stateDir }, { clock: first.clock });
  t.same(second.engine.retrieve(done.id), before, 'a finished batch comes back exactly as it was');
  t.same(second.engine.list().data.map((b) => b.id), [running.id, done.id], 'still newest first');
  const { batch } = await runToEnd(second, running.id);
  t.equal(batch.status, 'completed');
  t.same(batch.request_counts, { total: 30, completed: 30, failed: 0 });
  const ids = (await readLines(second.store, batch.output_file_id)).map((line) => line.custom_id);
  t.equal(new Set(ids).size, 30, 'every request answered once');
  // Closed here, not in a teardown: the state directory goes in a teardown, and an engine must stop before its directory does.
  await second.engine.close();
  const third = await startEngine({ stateDir });
  t.equal(third.engine.retrieve(running.id).status, 'completed', 'the finish itself was saved');
  await third.engine.close();
});

t.test('a cancel saved before a stop completes after the restart', async (t) => {
  const stateDir = await tempDir(t);
  const first = await startEngine({ stateDir });
  const fileId = await putInput(first.store, chatLines(10));
  const created = await first.engine.create({ input_file_id: fileId, endpoint, completion_window: '24h' });
  await first.engine.cancel(created.id);
  await first.engine.close();
  const second = await startEngine({ stateDir });
  t.equal(second.engine.retrieve(created.id).status, 'cancelling');
  second.clock.advance(LONG_RUN_MS); // past the cancel's duration
  const { batch } = await waitForStatus(second.engine, created.id, TERMINAL);
  t.equal(batch.status, 'cancelled');
  t.equal((await readLines(second.store, batch.error_file_id)).filter((l) => l.error?.code === 'batch_cancelled').length, 10);
  await second.engine.close();
});

t.test('restoring ignores an unfinished temp write and refuses a corrupt record with a code', async (t) => {
  const stateDir = await tempDir(t);
  const first = await startEngine({ stateDir });
  const fileId = await putInput(first.store, chatLines(2));
  const created = await first.engine.create({ input_file_id: fileId, endpoint, completion_window: '24h' });
  await runToEnd(first, created.id);
  await first.engine.close();
  const dir = path.join(stateDir, 'batches');
  await writeFile(path.join(dir, `${created.id}.json.123.abcd.tmp`), '{"half');
  const second = await startEngine({ stateDir });
  t.equal(second.engine.retrieve(created.id).status, 'completed');
  await second.engine.close();
  t.notOk((await readdir(dir)).some((name) => name.endsWith('.tmp')), 'the temp file is cleared');
  await writeFile(path.join(dir, 'batch_bad.json'), '{"batch": ');
  await t.rejects(startEngine({ stateDir }), { code: 'EMULATOR_STATE_CORRUPT', message: /batch_bad\.json/ });
});

t.test('engine options are checked with a coded error', async (t) => {
  for (const options of [{ batchDurationMs: -1 }, { errorRate: 1.5 }, { tokenLimit: 0 }]) {
    await t.rejects(startEngine(options), { code: 'INVALID_OPTION' }, JSON.stringify(options));
  }
});

t.test('a result file the store cannot write fails the batch with a reason, and the engine stays usable', async (t) => {
  const { engine: _unused, store, clock } = await startEngine();
  await _unused.close();
  let refuse = true;
  const flakyStore = {
    create: (meta: { filename: string; purpose: string }, content: AsyncIterable<Buffer>) =>
      meta.purpose === 'batch_output' && refuse ? Promise.reject(new Error('disk full')) : store.create(meta, content),
    createGenerated: (meta: FileMeta, body: GeneratedBody) => (refuse ? Promise.reject(new Error('disk full')) : store.createGenerated(meta, body)),
    get: (id: string) => store.get(id),
    read: (id: string) => store.read(id),
    delete: (id: string) => store.delete(id),
    list: () => store.list(),
  };
  const engine = new BatchEngine({ store: flakyStore, clock, batchDurationMs: LONG_RUN_MS });
  t.teardown(() => engine.close());
  const fileId = await putInput(store, chatLines(3));
  const failed = await engine.create({ input_file_id: fileId, endpoint, completion_window: '24h' });
  const { batch } = await runToEnd({ engine, clock }, failed.id);
  t.match(batch, { status: 'failed', errors: { data: [{ code: 'internal_error', message: /disk full/ }] } });
  t.ok(isAbsentFileId(batch.output_file_id), 'no output file');
  refuse = false;
  const next = await engine.create({ input_file_id: fileId, endpoint, completion_window: '24h' });
  t.equal((await runToEnd({ engine, clock }, next.id)).batch.status, 'completed');
});

t.test('a state directory that cannot be written makes create fail loudly', async (t) => {
  const dir = await tempDir(t);
  const blocker = path.join(dir, 'not-a-dir');
  await writeFile(blocker, 'x');
  const { engine, store } = await startEngine();
  await engine.close();
  const stuck = new BatchEngine({ store, clock: new EmulatorClock(), stateDir: blocker, batchDurationMs: 20 });
  const fileId = await putInput(store, chatLines(1));
  await t.rejects(stuck.create({ input_file_id: fileId, endpoint, completion_window: '24h' }), { code: 'ENOTDIR' });
  t.same(stuck.list({}).data, [], 'a create that could not be saved leaves no batch behind');
  await t.rejects(stuck.close(), { code: 'EMULATOR_STATE_WRITE_FAILED' });
});
