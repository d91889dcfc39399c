import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import { ApiClient } from '../src/openai/client.ts';
import { normalizeSubmitOptions, submitBatch, submitShard } from '../src/openai/submit.ts';
import { createSubmitter, type Submitter } from '../src/streams/submit.ts';
import type { SubmittedShard } from '../src/types.ts';
import { rejection } from './helpers/emulator.ts';
import { allBatches, FAST_RETRY, KEY, transport, uploadedShards } from './helpers/transport.ts';

async function collect(submitter: Submitter, shards: readonly unknown[]): Promise<SubmittedShard[]> {
  const out: SubmittedShard[] = [];
  await pipeline(Readable.from(shards), submitter, async (source: AsyncIterable<SubmittedShard>) => {
    for await (const item of source) out.push(item);
  });
  return out;
}

t.test('submits each shard with its endpoint, window, expiry and metadata plus the run tags', async (t) => {
  const env = await transport(t, { batchDurationMs: 60_000 });
  const shards = await uploadedShards(env, 3, 2);
  const submitter = createSubmitter({ client: env.client, metadata: { team: 'search' }, outputExpiresAfter: 7200, concurrency: 2 });
  t.match(submitter.runId, /^run_[0-9a-z]+_[0-9a-f]{12}$/, 'a generated run id, reported on the stage');
  const submitted = await collect(submitter, shards);
  t.same(submitted.map((s) => s.index), [0, 1, 2], 'input order kept');
  for (const shard of submitted) {
    t.equal(shard.adopted, false);
    t.equal(shard.runId, submitter.runId);
    t.equal(shard.batchId, shard.batch.id);
    t.match(shard.batch, { input_file_id: shard.fileId, endpoint: '/v1/chat/completions', completion_window: '24h' });
    t.same(shard.batch.metadata, { team: 'search', batchline_run: submitter.runId, batchline_shard: String(shard.index), batchline_sha256: shard.sha256.slice(0, 16) });
  }
  t.equal(allBatches(env.emulator).length, 3);
});

t.test('a lost create response adopts the batch it made instead of creating a second', async (t) => {
  const env = await transport(t, { batchDurationMs: 60_000 });
  const [shard] = await uploadedShards(env, 1, 3);
  env.emulator.faults.add({ kind: 'reset-response', match: { method: 'POST', path: '/v1/batches' } });
  const options = normalizeSubmitOptions({ runId: 'run-lost' });
  const submitted = await submitShard(env.client, shard, options);
  t.equal(submitted.adopted, true);
  t.same(env.emulator.faults.injected.map((f) => f.kind), ['reset-response']);
  const batches = allBatches(env.emulator);
  t.equal(batches.length, 1, 'one batch, not two');
  t.equal(batches[0].id, submitted.batchId);
});

t.test('the lookup before a retried create is itself retried, and a 429 on create adopts nothing', async (t) => {
  const env = await transport(t, { batchDurationMs: 60_000 });
  const [first, second] = await uploadedShards(env, 2, 2);
  env.emulator.faults.add({ kind: 'reset-response', match: { method: 'POST', path: '/v1/batches' } });
  env.emulator.faults.add({ kind: '500', match: { method: 'GET', path: '/v1/batches' } });
  const options = normalizeSubmitOptions({ runId: 'run-lookup' });
  t.equal((await submitShard(env.client, first, options)).adopted, true);
  env.emulator.faults.add({ kind: '429', match: { method: 'POST', path: '/v1/batches' }, retryAfterSeconds: 0.01 });
  const other = await submitShard(env.client, second, options);
  t.equal(other.adopted, false, 'nothing of shard 1 to adopt: created after the lookup');
  t.equal(allBatches(env.emulator).length, 2);
});

t.test('20 % random faults: exactly one batch per shard', async (t) => {
  const env = await transport(t, { batchDurationMs: 60_000 });
  const shards = await uploadedShards(env, 8, 2);
  env.emulator.faults.setRandom({ rate: 0.2, seed: 7, kinds: ['429', '500', '503', 'reset-request', 'reset-response', 'truncate', 'slow'] });
  env.emulator.faults.add({ kind: 'reset-response', match: { method: 'POST', path: '/v1/batches' }, times: 3 });
  const submitter = createSubmitter({ client: env.client, concurrency: 3 });
  const submitted = await collect(submitter, shards);
  t.ok(submitted.some((s) => s.adopted), 'some shards adopted their lost batch');
  t.ok(env.emulator.faults.injected.length > 3, `${env.emulator.faults.injected.length} faults injected`);
  const batches = allBatches(env.emulator).filter((b) => b.metadata?.batchline_run === submitter.runId);
  t.equal(batches.length, 8, 'one batch per shard');
  t.same(batches.map((b) => b.metadata?.batchline_shard).sort(), ['0', '1', '2', '3', '4', '5', '6', '7']);
  t.same(new Set(submitted.map((s) => s.batchId)), new Set(batches.map((b) => b.id)));
});

t.test('a resumed run adopts its batch before the first create; a lookup stops at the run start', async (t) => {
  const env = await transport(t, { batchDurationMs: 60_000 });
  const [shard] = await uploadedShards(env, 1, 2);
  const created = await submitShard(env.client, shard, normalizeSubmitOptions({ runId: 'run-resume' }));
  const resumed = await submitShard(env.client, shard, normalizeSubmitOptions({ runId: 'run-resume', adoptExisting: true }));
  t.equal(resumed.adopted, true);
  t.equal(resumed.batchId, created.batchId);
  // A run that started after the batch was made does not look that far back.
  const later = normalizeSubmitOptions({ runId: 'run-resume', adoptExisting: true, runStartedAt: new Date(Date.now() + 3_600_000), clockSkewMs: 0 });
  t.equal((await submitShard(env.client, shard, later)).adopted, false);
  t.equal(allBatches(env.emulator).length, 2);
});

t.test('submitBatch: a bare file id, tagged with the run and the file; adopts after a lost response', async (t) => {
  const env = await transport(t, { batchDurationMs: 60_000 });
  const [shard] = await uploadedShards(env, 1, 2);
  env.emulator.faults.add({ kind: 'reset-response', match: { method: 'POST', path: '/v1/batches' } });
  const result = await submitBatch(env.client, shard.fileId, { endpoint: '/v1/chat/completions', metadata: { note: 'x' } });
  t.equal(result.adopted, true);
  t.match(result.runId, /^run_/);
  t.same(result.batch.metadata, { note: 'x', batchline_run: result.runId, batchline_file: shard.fileId });
  t.equal(allBatches(env.emulator).length, 1);
  await t.rejects(submitBatch(env.client, shard.fileId, { endpoint: '/v1/nope' as never }), { code: 'INVALID_OPTION', message: /endpoint/ });
  await t.rejects(submitBatch(env.client, '', { endpoint: '/v1/chat/completions' }), { code: 'INVALID_OPTION' });
});

t.test('bad metadata and options fail up front, before any request', async (t) => {
  const env = await transport(t);
  const [shard] = await uploadedShards(env, 1, 1);
  const requestsBefore = env.emulator.faults.injected.length;
  t.throws(() => createSubmitter({ client: env.client, metadata: { ['k'.repeat(65)]: 'v' } }), { code: 'INVALID_METADATA' });
  t.throws(() => createSubmitter({ client: env.client, metadata: Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`k${i}`, 'v'])) }), {
    code: 'INVALID_METADATA',
  });
  t.throws(() => createSubmitter({ client: env.client, metadata: { batchline_shard: '1' } }), { code: 'INVALID_METADATA' });
  t.throws(() => createSubmitter({ client: env.client, runId: 'has space' }), { code: 'INVALID_OPTION' });
  t.throws(() => createSubmitter({ client: env.client, outputExpiresAfter: 60 }), { code: 'INVALID_OPTION', message: /outputExpiresAfter/ });
  t.throws(() => createSubmitter({ client: env.client, outputExpiresAfter: { anchor: 'now' as never, seconds: 3600 } }), { code: 'INVALID_OPTION' });
  t.throws(() => createSubmitter({ client: env.client, completionWindow: '48h' as never }), { code: 'INVALID_OPTION' });
  t.throws(() => createSubmitter({ client: env.client, concurrency: 0 }), { code: 'INVALID_OPTION' });
  t.throws(() => createSubmitter({ client: env.client, adoptExisting: 'yes' as never }), { code: 'INVALID_OPTION' });
  const bad = await rejection(collect(createSubmitter({ client: env.client }), [{ ...shard, fileId: '' }]));
  t.match(bad, { code: 'INVALID_SHARD', shard: 0 });
  t.equal(allBatches(env.emulator).length, 0);
  t.equal(env.emulator.faults.injected.length, requestsBefore);
});

t.test('400 and 401 are not retried', async (t) => {
  const env = await transport(t, { apiKey: KEY });
  const [shard] = await uploadedShards(env, 1, 1);
  const missing = await rejection(submitShard(env.client, { ...shard, fileId: 'file-missing' }, normalizeSubmitOptions()));
  t.match(missing, { code: 'API_BAD_REQUEST', status: 400, attempts: 1, shard: 0, fileId: 'file-missing' });
  const wrongKey = new ApiClient({ apiKey: 'sk-wrong-key-1234', baseURL: `${env.emulator.url}/v1`, retry: FAST_RETRY });
  const unauthorized = await rejection(submitShard(wrongKey, shard, normalizeSubmitOptions()));
  t.match(unauthorized, { code: 'API_UNAUTHORIZED', status: 401, attempts: 1 });
  t.notMatch(JSON.stringify(unauthorized) + unauthorized.message, /sk-wrong-key-1234/);
  t.equal(allBatches(env.emulator).length, 0);
});

t.test('an abort stops the stage with ABORTED', async (t) => {
  const env = await transport(t, { batchDurationMs: 60_000 });
  const shards = await uploadedShards(env, 2, 1);
  env.emulator.faults.add({ kind: '429', match: { method: 'POST', path: '/v1/batches' }, times: Infinity, retryAfterSeconds: 30 });
  const controller = new AbortController();
  const pending = rejection(collect(createSubmitter({ client: env.client, signal: controller.signal }), shards));
  while (env.emulator.faults.injected.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  controller.abort();
  t.match(await pending, { code: 'ABORTED' });
});
