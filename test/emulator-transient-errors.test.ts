import t from 'tap';
import { resultStatus } from '../src/core/join/result-line.ts';
import { batchEmulator, fileLines, request, runToEnd, uploadJsonl } from './helpers/batch-sdk.ts';

const chat = '/v1/chat/completions';
const chatRequest = (id: string) => request(chat, id, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `question ${id}` }] });
const ids = (count: number) => Array.from({ length: count }, (_, i) => `t-${i + 1}`);

const SERVER_ERROR_BODY = {
  error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null },
};

t.test('transientErrorRate: 500 lines that clear when the failed requests are sent again in a new batch', async (t) => {
  const { client, emulator } = await batchEmulator(t, { transientErrorRate: 0.4, seed: 11 });
  let pending = ids(60);
  const succeeded = new Set<string>();
  let rounds = 0;
  while (pending.length > 0) {
    rounds++;
    t.ok(rounds <= 12, `round ${rounds}: a client that resubmits its failures gets to the end`);
    if (rounds > 12) break;
    const fileId = await uploadJsonl(client, pending.map(chatRequest), `round-${rounds}.jsonl`);
    const created = await client.batches.create({ input_file_id: fileId, endpoint: chat, completion_window: '24h' });
    const { batch } = await runToEnd(emulator, client, created.id);
    t.equal(batch.status, 'completed');
    const output = await fileLines(client, batch.output_file_id);
    const errors = await fileLines(client, batch.error_file_id);
    t.same(batch.request_counts, { total: pending.length, completed: output.length, failed: errors.length });
    for (const line of errors) {
      t.match(line, { id: /^batch_req_/, response: { status_code: 500, request_id: /^req_/ }, error: null });
      t.same(line.response?.body, SERVER_ERROR_BODY);
      t.equal(resultStatus(line), 'failed', 'a 5xx line is a failure worth sending again, not a rejection');
    }
    // Failed requests are not billed: the batch's usage is that of its answered lines.
    const billed = output.reduce((sum, line) => sum + (line.response?.body as { usage: { prompt_tokens: number } }).usage.prompt_tokens, 0);
    t.equal(batch.usage?.input_tokens, billed);
    if (rounds === 1) t.ok(errors.length > 10 && errors.length < 40, `about 40 % failed in the first batch: ${errors.length}`);
    for (const line of output) succeeded.add(line.custom_id);
    pending = errors.map((line) => line.custom_id);
  }
  t.ok(rounds >= 2, `it took ${rounds} rounds`);
  t.equal(succeeded.size, 60, 'every request succeeded in the end');
});

t.test('errorRate stays permanent: a rejected request is rejected again in every new batch', async (t) => {
  const { client, emulator } = await batchEmulator(t, { errorRate: 0.3, seed: 4 });
  const runOnce = async (customIds: string[]) => {
    const fileId = await uploadJsonl(client, customIds.map(chatRequest));
    const created = await client.batches.create({ input_file_id: fileId, endpoint: chat, completion_window: '24h' });
    const { batch } = await runToEnd(emulator, client, created.id);
    return fileLines(client, batch.error_file_id);
  };
  const first = await runOnce(ids(40));
  t.ok(first.length > 0, `some rejected: ${first.length}`);
  t.ok(first.every((line) => line.response?.status_code === 400 && resultStatus(line) === 'rejected'));
  const rejected = first.map((line) => line.custom_id).sort();
  const again = await runOnce(rejected);
  t.same(again.map((line) => line.custom_id).sort(), rejected, 'the same requests fail again');
  t.ok(again.every((line) => line.response?.status_code === 400));
});

t.test('a transient failure is drawn per batch: the same file in two batches fails on different lines', async (t) => {
  const { client, emulator } = await batchEmulator(t, { transientErrorRate: 0.5, seed: 2 });
  const fileId = await uploadJsonl(client, ids(40).map(chatRequest));
  const failedIn = async () => {
    const created = await client.batches.create({ input_file_id: fileId, endpoint: chat, completion_window: '24h' });
    const { batch } = await runToEnd(emulator, client, created.id);
    return (await fileLines(client, batch.error_file_id)).map((line) => line.custom_id).sort();
  };
  const first = await failedIn();
  const second = await failedIn();
  t.ok(first.length > 0 && second.length > 0);
  t.notSame(first, second);
});

t.test('transientErrorRate is checked like the other rates', async (t) => {
  const { startEmulator } = await import('../src/emulator/index.ts');
  await t.rejects(startEmulator({ transientErrorRate: 1.5 }), { code: 'INVALID_OPTION', option: 'transientErrorRate' });
  await t.rejects(startEmulator({ transientErrorRate: -0.1 }), { code: 'INVALID_OPTION', option: 'transientErrorRate' });
});
