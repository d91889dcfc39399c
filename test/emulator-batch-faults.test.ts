import t from 'tap';
import { startEmulator } from '../src/emulator/index.ts';
import { ApiClient } from '../src/openai/client.ts';
import { waitForBatch } from '../src/openai/poll.ts';
import { batchEmulator, fileLines, LONG_RUN_MS, pollUntilDone, request, uploadJsonl } from './helpers/batch-sdk.ts';

const chat = '/v1/chat/completions';
const chatRequest = (id: string) => request(chat, id, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `question ${id}` }] });
const ids = (count: number) => Array.from({ length: count }, (_, i) => `f-${i + 1}`);
const LIMIT_TAIL = 'enqueued tokens. Please try again once some in_progress batches have been completed.';

t.test('batchFaults end the Nth batch created as asked; the others run as usual', async (t) => {
  const { client, emulator } = await batchEmulator(t, {
    batchFaults: [
      { batch: 2, kind: 'expire' },
      { batch: 3, kind: 'token_limit_exceeded' },
      { batch: 4, kind: 'fail' },
    ],
  });
  const fileId = await uploadJsonl(client, ids(20).map(chatRequest));
  const created = [];
  for (let k = 0; k < 5; k++) created.push(await client.batches.create({ input_file_id: fileId, endpoint: chat, completion_window: '24h' }));
  emulator.clock.advance(LONG_RUN_MS);
  const [first, expired, overLimit, failed, fifth] = await Promise.all(created.map(async (batch) => (await pollUntilDone(client, batch.id)).batch));

  t.equal(first.status, 'completed', 'batch 1 has no fault');
  t.equal(fifth.status, 'completed', 'batch 5 has no fault');

  t.equal(expired.status, 'expired', 'batch 2 expires');
  t.same(expired.request_counts, { total: 20, completed: 10, failed: 10 }, 'half way through its run');
  t.ok(Math.abs(expired.expired_at! - expired.created_at - LONG_RUN_MS / 2000) <= 1, 'at half its duration: a tenth validating, then half of the run');
  t.equal((await fileLines(client, expired.output_file_id)).length, 10, 'the answered half is in the output file');
  const unfinished = await fileLines(client, expired.error_file_id);
  t.equal(unfinished.length, 10);
  t.ok(unfinished.every((line) => line.error?.code === 'batch_expired' && line.response === null));

  t.equal(overLimit.status, 'failed', 'batch 3 is refused by the token limit');
  t.equal(overLimit.in_progress_at, null, 'as it leaves validation');
  t.same(overLimit.errors?.data, [
    {
      code: 'token_limit_exceeded',
      line: null,
      param: null,
      message: `Enqueued token limit reached for gpt-4o-mini in organization org-emulator. Limit: 2,000,000 ${LIMIT_TAIL}`,
    },
  ]);

  t.equal(failed.status, 'failed', 'batch 4 fails');
  t.same(failed.errors?.data, [{ code: 'server_error', line: null, param: null, message: 'The server had an error while processing your request. Sorry about that!' }]);
  t.same(failed.request_counts, { total: 0, completed: 0, failed: 0 });

  // What a client sees: the forced token limit is the code a client resubmits on.
  const api = new ApiClient({ apiKey: 'k', baseURL: `${emulator.url}/v1` });
  await t.rejects(waitForBatch(api, overLimit.id), { code: 'TOKEN_LIMIT_EXCEEDED', batchId: overLimit.id });
  await t.rejects(waitForBatch(api, failed.id), { code: 'BATCH_FAILED', batchId: failed.id });
});

t.test('a forced token_limit_exceeded names the configured limit, worded as the limit itself words it', async (t) => {
  const { client, emulator } = await batchEmulator(t, { tokenLimit: 1_234_567, batchFaults: [{ batch: 1, kind: 'token_limit_exceeded' }] });
  const small = await uploadJsonl(client, [chatRequest('a')]);
  const forced = await client.batches.create({ input_file_id: small, endpoint: chat, completion_window: '24h' });
  emulator.clock.advance(LONG_RUN_MS);
  const { batch } = await pollUntilDone(client, forced.id);
  t.equal(batch.errors?.data?.[0].message, `Enqueued token limit reached for gpt-4o-mini in organization org-emulator. Limit: 1,234,567 ${LIMIT_TAIL}`);

  const limited = await batchEmulator(t, { tokenLimit: 10 });
  const big = await uploadJsonl(limited.client, [request(chat, 'big', { model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(400) }] })]);
  const overLimit = await limited.client.batches.create({ input_file_id: big, endpoint: chat, completion_window: '24h' });
  limited.emulator.clock.advance(LONG_RUN_MS);
  const real = (await pollUntilDone(limited.client, overLimit.id)).batch;
  t.same(real.errors?.data, [
    { code: 'token_limit_exceeded', line: null, param: null, message: `Enqueued token limit reached for gpt-4o in organization org-emulator. Limit: 10 ${LIMIT_TAIL}` },
  ]);
});

t.test('batchFaults are checked before the emulator starts', async (t) => {
  const bad: unknown[] = [
    [{ batch: 0, kind: 'expire' }],
    [{ batch: 1.5, kind: 'expire' }],
    [{ batch: 1, kind: 'meltdown' }],
    [{ batch: 2, kind: 'fail' }, { batch: 2, kind: 'expire' }],
    [null],
    { batch: 1, kind: 'fail' },
  ];
  for (const batchFaults of bad) {
    await t.rejects(startEmulator({ batchFaults: batchFaults as never }), { code: 'INVALID_OPTION', option: 'batchFaults' }, JSON.stringify(batchFaults));
  }
});
