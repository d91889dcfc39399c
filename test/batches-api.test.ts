import t from 'tap';
import { batchFailure, cancelBatch, listBatches, normalizeBatch, retrieveBatch } from '../src/openai/batches.ts';
import { resultFiles } from '../src/openai/results.ts';
import { normalizeSubmitOptions, submitShard } from '../src/openai/submit.ts';
import type { BatchObject } from '../src/types.ts';
import { rejection } from './helpers/emulator.ts';
import { finish, transport, uploadedShards } from './helpers/transport.ts';

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

t.test('cancel: a running batch becomes cancelling; again is fine; a lost answer is fine; an ended batch is BATCH_NOT_CANCELLABLE', async (t) => {
  const env = await transport(t, { batchDurationMs: 60_000 });
  const shards = await uploadedShards(env, 2, 2);
  const options = normalizeSubmitOptions();
  const [a, b] = await Promise.all(shards.map((shard) => submitShard(env.client, shard, options)));
  t.equal((await cancelBatch(env.client, a.batchId)).status, 'cancelling');
  t.equal((await cancelBatch(env.client, a.batchId)).status, 'cancelling', 'a second cancel is not an error');
  await finish(env.emulator, a.batchId);
  t.equal((await cancelBatch(env.client, a.batchId)).status, 'cancelled', 'nor is cancelling a cancelled batch (409 looked into)');
  env.emulator.faults.add({ kind: 'reset-response', match: { method: 'POST', path: `/v1/batches/${b.batchId}/cancel` } });
  t.match(await cancelBatch(env.client, b.batchId), { id: b.batchId, status: 'cancelling' }, 'the retry after a lost answer meets cancelling');
  const [c] = await uploadedShards(env, 1, 1, 'c');
  const done = await submitShard(env.client, c, options);
  await finish(env.emulator, done.batchId, 10_000);
  const err = await rejection(cancelBatch(env.client, done.batchId, { shard: 0 }));
  t.match(err, { code: 'BATCH_NOT_CANCELLABLE', batchId: done.batchId, shard: 0, status: 409, retryable: false, attempts: 1 });
  t.match(await rejection(cancelBatch(env.client, 'batch_none')), { code: 'API_NOT_FOUND', attempts: 1 });
});

t.test('list: newest first over cursor pages, with a limit, a cursor and a metadata filter', async (t) => {
  const env = await transport(t, { batchDurationMs: 60_000 });
  const shards = await uploadedShards(env, 5, 1);
  const ids: string[] = [];
  for (const shard of shards) ids.push((await submitShard(env.client, shard, normalizeSubmitOptions({ runId: shard.index < 3 ? 'run-a' : 'run-b' }))).batchId);
  const newestFirst = [...ids].reverse();
  env.emulator.faults.add({ kind: '503', match: { method: 'GET', path: '/v1/batches' } });
  t.same((await collect(listBatches(env.client, { pageSize: 2 }))).map((b) => b.id), newestFirst, 'three pages, one retried');
  t.same((await collect(listBatches(env.client, { limit: 3 }))).map((b) => b.id), newestFirst.slice(0, 3));
  t.same((await collect(listBatches(env.client, { after: newestFirst[1], pageSize: 1 }))).map((b) => b.id), newestFirst.slice(2));
  const runA = await collect(listBatches(env.client, { metadata: { batchline_run: 'run-a' }, pageSize: 1 }));
  t.same(runA.map((b) => b.metadata?.batchline_shard), ['2', '1', '0']);
  t.same((await collect(listBatches(env.client, { metadata: { batchline_run: 'run-a', batchline_shard: '1' } }))).map((b) => b.id), [ids[1]]);
  t.same(await collect(listBatches(env.client, { createdAfterMs: Date.now() + 3_600_000 })), [], 'stops at batches older than asked');
  // Stopping early stops the requests.
  const requests = () => env.emulator.faults.injected.length;
  env.emulator.faults.setRandom({ rate: 1, kinds: ['slow'] });
  const before = requests();
  for await (const batch of listBatches(env.client, { pageSize: 1 })) {
    t.equal(batch.id, newestFirst[0]);
    break;
  }
  t.equal(requests() - before, 1, 'one page fetched');
  env.emulator.faults.setRandom({ rate: 0 });
  t.throws(() => listBatches(env.client, { pageSize: 101 }), { code: 'INVALID_OPTION' }, 'options are checked before any iteration');
  t.throws(() => listBatches(env.client, { limit: 0 }), { code: 'INVALID_OPTION' });
  t.throws(() => listBatches(env.client, { metadata: { k: 1 as never } }), { code: 'INVALID_OPTION' });
  t.match(await retrieveBatch(env.client, ids[0]), { id: ids[0], status: 'validating' });
});

t.test('"" file ids are absent everywhere', async (t) => {
  const batch = normalizeBatch({ id: 'batch_1', status: 'completed', output_file_id: '', error_file_id: 'file-e' });
  t.equal(batch.output_file_id, null);
  t.same(resultFiles(batch), [{ kind: 'error', fileId: 'file-e' }]);
  t.same(resultFiles(normalizeBatch({ id: 'b', output_file_id: undefined, error_file_id: '' })), []);
});

t.test('a failed batch without error items is still a coded BATCH_FAILED', async (t) => {
  const batch = { id: 'batch_2', status: 'failed', errors: null, input_file_id: 'file-i' } as unknown as BatchObject;
  const err = batchFailure(batch, 3);
  t.match(err, { code: 'BATCH_FAILED', batchId: 'batch_2', shard: 3, fileId: 'file-i', items: [] });
  t.match(err.message, /no reason given/);
  t.same(err.toJSON(), { code: 'BATCH_FAILED', message: err.message, shard: 3, batchId: 'batch_2', fileId: 'file-i', status: 'failed' });
});
