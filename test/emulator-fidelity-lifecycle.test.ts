// Where the emulator follows the live service in a batch's life: what a batch shows while it
// validates and finalizes, absent file ids, how long a cancel takes, the poll hint, the
// creation rate limit and a lost create response. Through the official SDK.
import t from 'tap';
import OpenAI from 'openai';
import { batchEmulator, LONG_RUN_MS, pollUntilDone, pollWhile, request, runToEnd, uploadJsonl } from './helpers/batch-sdk.ts';
import { rejection } from './helpers/emulator.ts';

const chat = '/v1/chat/completions';
const lines = (count: number) => Array.from({ length: count }, (_, i) => request(chat, `r${i}`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `q${i}` }] }));

t.test('request_counts stay 0 while validating, and result file ids appear only once the batch is completed', async (t) => {
  const { client, emulator } = await batchEmulator(t);
  const fileId = await uploadJsonl(client, lines(12));
  const created = await client.batches.create({ input_file_id: fileId, endpoint: chat, completion_window: '24h' });
  // The input check is over once the batch knows its model; it is still validating until the clock moves.
  let checked = await client.batches.retrieve(created.id);
  while (checked.model === null || checked.model === undefined) checked = await client.batches.retrieve(created.id);
  t.match(checked, { status: 'validating', model: 'gpt-4o-mini', request_counts: { total: 0, completed: 0, failed: 0 } });

  emulator.clock.advance(LONG_RUN_MS / 10);
  const running = await pollWhile(client, created.id, 'validating', []);
  t.match(running, { status: 'in_progress', request_counts: { total: 12 } });

  emulator.clock.advance((LONG_RUN_MS * 8) / 10);
  const finalizing = await pollWhile(client, created.id, 'in_progress', []);
  t.equal(finalizing.status, 'finalizing');
  t.same([finalizing.output_file_id, finalizing.error_file_id], [null, null], 'no file id while finalizing');

  emulator.clock.advance(LONG_RUN_MS / 10);
  const { batch } = await pollUntilDone(client, created.id);
  t.equal(batch.status, 'completed');
  t.match(batch.output_file_id, /^file-/, 'the output file id once completed');
  t.same(batch.request_counts, { total: 12, completed: 12, failed: 0 });
});

t.test('an absent file id is null for some batches and "" for others, the same for the same seed', async (t) => {
  const run = async (seed: number) => {
    const { client, emulator } = await batchEmulator(t, { seed });
    const fileId = await uploadJsonl(client, lines(2));
    const errorFileIds: Array<string | null | undefined> = [];
    for (let i = 0; i < 8; i++) {
      const created = await client.batches.create({ input_file_id: fileId, endpoint: chat, completion_window: '24h' });
      const { batch } = await runToEnd(emulator, client, created.id);
      t.match(batch.output_file_id, /^file-/);
      errorFileIds.push(batch.error_file_id);
    }
    await emulator.close();
    return errorFileIds;
  };
  const first = await run(5);
  t.ok(first.includes(null) && first.includes(''), `both forms of "no error file" are sent: ${JSON.stringify(first)}`);
  t.ok(first.every((id) => id === null || id === ''), 'a clean batch never names an error file');
  t.same(await run(5), first, 'the same seed picks the same batches');
});

t.test('cancelling lasts cancelDurationMs of emulator time, so a retried cancel meets cancelling', async (t) => {
  const { client, emulator } = await batchEmulator(t, { cancelDurationMs: 600_000 });
  const fileId = await uploadJsonl(client, lines(20));
  const created = await client.batches.create({ input_file_id: fileId, endpoint: chat, completion_window: '24h' });
  emulator.clock.advance(LONG_RUN_MS / 2);
  await pollWhile(client, created.id, 'validating', []);

  // The first cancel's answer is lost on the way back; the client retries it, as it must.
  emulator.faults.add({ match: { method: 'POST', path: `/v1/batches/${created.id}/cancel` }, kind: 'reset-response' });
  await rejection(client.batches.cancel(created.id));
  emulator.clock.advance(300_000);
  const retried = await client.batches.cancel(created.id);
  t.equal(retried.status, 'cancelling', 'still cancelling half way through');
  t.equal(retried.output_file_id, null);

  emulator.clock.advance(300_000);
  const { batch } = await pollUntilDone(client, created.id);
  t.equal(batch.status, 'cancelled');
  t.equal(batch.cancelled_at! - batch.cancelling_at!, 600, 'cancelled 600 s of emulator time after cancelling began');
  t.match(await rejection(client.batches.cancel(created.id)), { status: 409 }, 'once cancelled, a further cancel is a conflict');
});

t.test('openai-poll-after-ms is sent on every retrieve only when pollAfterMs is set', async (t) => {
  const quiet = await batchEmulator(t);
  const fileId = await uploadJsonl(quiet.client, lines(1));
  const batch = await quiet.client.batches.create({ input_file_id: fileId, endpoint: chat, completion_window: '24h' });
  const { response } = await quiet.client.batches.retrieve(batch.id).withResponse();
  t.equal(response.headers.get('openai-poll-after-ms'), null, 'off by default');

  const hinting = await batchEmulator(t, { pollAfterMs: 1500 });
  const hintedFile = await uploadJsonl(hinting.client, lines(1));
  const hinted = await hinting.client.batches.create({ input_file_id: hintedFile, endpoint: chat, completion_window: '24h' });
  const running = await hinting.client.batches.retrieve(hinted.id).withResponse();
  t.equal(running.response.headers.get('openai-poll-after-ms'), '1500');
  await runToEnd(hinting.emulator, hinting.client, hinted.id);
  const ended = await hinting.client.batches.retrieve(hinted.id).withResponse();
  t.equal(ended.data.status, 'completed');
  t.equal(ended.response.headers.get('openai-poll-after-ms'), '1500', 'on a finished batch too');
  await t.rejects(batchEmulator(t, { pollAfterMs: -1 }), { code: 'INVALID_OPTION', message: /pollAfterMs/ });
});

t.test('batchCreationLimit answers a create over the limit with a 429 and Retry-After until the window moves on', async (t) => {
  const { client, emulator } = await batchEmulator(t, { batchCreationLimit: { creations: 2, windowMs: 60_000 } });
  const fileId = await uploadJsonl(client, lines(1));
  const create = () => client.batches.create({ input_file_id: fileId, endpoint: chat, completion_window: '24h' });
  await create();
  emulator.clock.advance(20_000);
  await create();
  const limited = await rejection(create());
  t.ok(limited instanceof OpenAI.RateLimitError);
  t.match(limited, { status: 429, code: 'rate_limit_exceeded', type: 'requests' });
  t.equal(limited.headers.get('retry-after'), '40', 'the oldest creation leaves the window in 40 s');
  const waitMs = Number(limited.headers.get('retry-after-ms'));
  t.ok(waitMs > 39_000 && waitMs <= 40_000, `retry-after-ms to the millisecond: ${waitMs}`);
  t.equal((await client.batches.list()).data.length, 2, 'the refused create made nothing');
  emulator.clock.advance(40_000);
  await create();
  t.equal((await client.batches.list()).data.length, 3, 'room again once the window moved on');
  await t.rejects(batchEmulator(t, { batchCreationLimit: { creations: 0 } }), { code: 'INVALID_OPTION', message: /batchCreationLimit\.creations/ });
});

t.test('a create whose response is lost leaves the batch in place; a blind retry makes a second one', async (t) => {
  const { client, emulator } = await batchEmulator(t);
  const fileId = await uploadJsonl(client, lines(3));
  emulator.faults.add({ match: { method: 'POST', path: '/v1/batches' }, kind: 'reset-response' });
  const lost = await rejection(client.batches.create({ input_file_id: fileId, endpoint: chat, completion_window: '24h', metadata: { run: 'r1', shard: '0' } }));
  t.equal(lost.status, undefined, `no HTTP answer reached the client: ${lost.message}`);
  const listed = (await client.batches.list()).data;
  t.equal(listed.length, 1, 'the batch exists although its create failed for the client');
  t.same(listed[0].metadata, { run: 'r1', shard: '0' }, 'found by the tags it was created with');

  await client.batches.create({ input_file_id: fileId, endpoint: chat, completion_window: '24h', metadata: { run: 'r1', shard: '0' } });
  const again = (await client.batches.list()).data.filter((batch) => batch.metadata?.shard === '0');
  t.equal(again.length, 2, 'retrying without looking first makes a second batch for the same shard');
});
