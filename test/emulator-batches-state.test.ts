import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { chatLines, putInput, readLines, sleep, startEngine, waitForStatus, TERMINAL } from './helpers/batch-fixtures.ts';

const endpoint = '/v1/chat/completions';

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'batchline-batches-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('with stateDir a batch that was running when the engine stopped finishes after a restart', async (t) => {
  const stateDir = await tempDir(t);
  const first = await startEngine({ stateDir, batchDurationMs: 400 });
  const fileId = await putInput(first.store, chatLines(30));
  const done = await first.engine.create({ input_file_id: fileId, endpoint, completion_window: '24h', metadata: { run: 'done' } });
  await waitForStatus(first.engine, done.id, TERMINAL);
  const running = await first.engine.create({ input_file_id: fileId, endpoint, completion_window: '24h', metadata: { run: 'running' } });
  await waitForStatus(first.engine, running.id, ['in_progress', 'finalizing', 'completed']);
  await first.engine.close();
  const before = first.engine.retrieve(done.id);
  t.same((await readdir(path.join(stateDir, 'batches'))).sort(), [`${done.id}.json`, `${running.id}.json`].sort(), 'one record per batch, no temp files');

  await sleep(50);
  const second = await startEngine({ stateDir, batchDurationMs: 400 });
  t.teardown(() => second.engine.close());
  t.same(second.engine.retrieve(done.id), before, 'a finished batch comes back exactly as it was');
  t.same(second.engine.list().data.map((b) => b.id), [running.id, done.id], 'still newest first');
  const { batch } = await waitForStatus(second.engine, running.id, TERMINAL);
  t.equal(batch.status, 'completed');
  t.same(batch.request_counts, { total: 30, completed: 30, failed: 0 });
  const ids = (await readLines(second.store, batch.output_file_id)).map((line) => line.custom_id);
  t.equal(new Set(ids).size, 30, 'every request answered once');
  const third = await startEngine({ stateDir });
  t.teardown(() => third.engine.close());
  t.equal(third.engine.retrieve(running.id).status, 'completed', 'the finish itself was saved');
});

t.test('a cancel saved before a stop completes after the restart', async (t) => {
  const stateDir = await tempDir(t);
  const first = await startEngine({ stateDir, batchDurationMs: 1_000_000 });
  const fileId = await putInput(first.store, chatLines(10));
  const created = await first.engine.create({ input_file_id: fileId, endpoint, completion_window: '24h' });
  await first.engine.cancel(created.id);
  await first.engine.close();
  const second = await startEngine({ stateDir, batchDurationMs: 1_000_000 });
  t.teardown(() => second.engine.close());
  t.equal(second.engine.retrieve(created.id).status, 'cancelling');
  second.clock.advance(100_000);
  const { batch } = await waitForStatus(second.engine, created.id, TERMINAL);
  t.equal(batch.status, 'cancelled');
  t.equal((await readLines(second.store, batch.error_file_id)).filter((l) => l.error?.code === 'batch_cancelled').length, 10);
});

t.test('restoring ignores an unfinished temp write and refuses a corrupt record with a code', async (t) => {
  const stateDir = await tempDir(t);
  const first = await startEngine({ stateDir });
  const fileId = await putInput(first.store, chatLines(2));
  const created = await first.engine.create({ input_file_id: fileId, endpoint, completion_window: '24h' });
  await waitForStatus(first.engine, created.id, TERMINAL);
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
