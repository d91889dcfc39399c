import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import OpenAI from 'openai';
import t from 'tap';
import { ApiClient } from '../src/openai/client.ts';
import { normalizePollOptions, pollShard, waitForBatch, type PolledShard, type PollProgress } from '../src/openai/poll.ts';
import { normalizeSubmitOptions, submitShard } from '../src/openai/submit.ts';
import { createPoller } from '../src/streams/poll.ts';
import type { BatchObject } from '../src/types.ts';
import { rejection } from './helpers/emulator.ts';
import { chatRequest, FAST_RETRY, KEY, transport, uploadedShards, uploadText, type Transport } from './helpers/transport.ts';

async function submitted(env: Transport, count: number, perShard = 2) {
  const options = normalizeSubmitOptions();
  return Promise.all((await uploadedShards(env, count, perShard)).map((shard) => submitShard(env.client, shard, options)));
}

async function pollAll(items: readonly unknown[], options: Parameters<typeof createPoller>[0]): Promise<Array<BatchObject | PolledShard>> {
  const out: Array<BatchObject | PolledShard> = [];
  await pipeline(Readable.from(items), createPoller(options), async (source: AsyncIterable<BatchObject | PolledShard>) => {
    for await (const item of source) out.push(item);
  });
  return out;
}

/** An SDK client whose responses lose `openai-poll-after-ms`: a server that does not send the hint. */
function clientWithoutPollAfter(env: Transport): ApiClient {
  const sdk = new OpenAI({
    apiKey: KEY,
    baseURL: `${env.emulator.url}/v1`,
    fetch: async (url, init) => {
      const response = await fetch(url, init);
      const headers = new Headers(response.headers);
      headers.delete('openai-poll-after-ms');
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    },
  });
  return new ApiClient({ client: sdk, retry: FAST_RETRY });
}

t.test('polls many batches to their end, in order, with progress on status and counts', async (t) => {
  const env = await transport(t, { batchDurationMs: 400 });
  const shards = await submitted(env, 3, 5);
  const events: PollProgress[] = [];
  const duplexEvents: PollProgress[] = [];
  const poller = createPoller({ client: env.client, initialDelayMs: 10, maxDelayMs: 40, onProgress: (e) => events.push(e) });
  poller.on('progress', (e: PollProgress) => duplexEvents.push(e));
  const out: PolledShard[] = [];
  await pipeline(Readable.from([shards[0], shards[1].batchId, shards[2].batch]), poller, async (source: AsyncIterable<PolledShard>) => {
    for await (const item of source) out.push(item);
  });
  t.equal(out.length, 3);
  t.match(out[0], { index: 0, batchId: shards[0].batchId, batch: { status: 'completed' }, failure: null });
  t.match(out[1], { id: shards[1].batchId, status: 'completed' }, 'an id comes out as the final batch');
  t.match(out[2], { id: shards[2].batchId, status: 'completed' });
  t.same(duplexEvents, events, "the stage's 'progress' events are the callback's");
  const first = events.filter((e) => e.batchId === shards[0].batchId);
  t.equal(first[0].previousStatus, null);
  t.ok(first[0].statusChanged && first[0].countsChanged);
  t.same(first.at(-1), { ...first.at(-1), status: 'completed', terminal: true, nextPollMs: null, requestCounts: { total: 5, completed: 5, failed: 0 } });
  const statuses = first.filter((e) => e.statusChanged).map((e) => e.status);
  t.equal(statuses.at(-1), 'completed');
  t.ok(statuses.length >= 2, `saw ${statuses.join(' → ')}`);
  t.same(first.map((e) => e.polls), first.map((_, i) => i + 1));
  t.equal(first[0].shard, 0);
});

t.test("honours the server's openai-poll-after-ms hint", async (t) => {
  const env = await transport(t, { batchDurationMs: 1000, pollAfterMs: 100 });
  const [shard] = await submitted(env, 1);
  const events: PollProgress[] = [];
  // A first wait of a minute: only the hint (100 ms for this emulator) lets this finish in time.
  const batch = await waitForBatch(env.client, shard.batchId, { initialDelayMs: 60_000, onProgress: (e) => events.push(e) });
  t.equal(batch.status, 'completed');
  const running = events.filter((e) => !e.terminal);
  t.ok(running.length > 0);
  for (const event of running) t.match(event, { pollAfterMs: 100, nextPollMs: 100 });
});

t.test('without the hint (or with it turned off) it backs off on its own schedule', async (t) => {
  const env = await transport(t, { batchDurationMs: 60_000 });
  const [shard] = await submitted(env, 1);
  for (const [name, client, options] of [
    ['no hint sent', clientWithoutPollAfter(env), {}],
    ['hint ignored', env.client, { usePollAfter: false }],
  ] as const) {
    const times: number[] = [];
    const events: PollProgress[] = [];
    const controller = new AbortController();
    const pending = rejection(
      waitForBatch(client, shard.batchId, {
        ...options,
        initialDelayMs: 20,
        maxDelayMs: 80,
        multiplier: 2,
        signal: controller.signal,
        onProgress: (e) => {
          times.push(performance.now());
          events.push(e);
          if (events.length === 5) controller.abort();
        },
      }),
    );
    t.match(await pending, { code: 'ABORTED' }, name);
    t.same(events.map((e) => e.nextPollMs), [20, 40, 80, 80, 80], name);
    if (name === 'no hint sent') t.same(events.map((e) => e.pollAfterMs), [null, null, null, null, null]);
    for (let i = 1; i < times.length; i++) t.ok(times[i] - times[i - 1] >= (events[i - 1].nextPollMs ?? 0) - 2, `${name}: waited before poll ${i + 1}`);
  }
});

t.test('all polls of a stage share one request budget', async (t) => {
  const env = await transport(t, { batchDurationMs: 1000 });
  const shards = await submitted(env, 4);
  let polls = 0;
  const started = performance.now();
  const out = await pollAll(shards, {
    client: env.client,
    usePollAfter: false,
    initialDelayMs: 0,
    maxDelayMs: 0,
    maxRequestsPerSecond: 20,
    requestBurst: 1,
    onProgress: () => polls++,
  });
  const seconds = (performance.now() - started) / 1000;
  t.equal(out.length, 4);
  t.ok(polls >= 8, `${polls} polls`);
  t.ok(polls <= 2 + 20 * seconds, `${polls} polls in ${seconds.toFixed(2)} s stay within 20/s for the four batches together`);
  t.throws(() => createPoller({ client: env.client, maxRequestsPerSecond: 0 }), { code: 'INVALID_OPTION' });
  t.throws(() => createPoller({ client: env.client, onFailed: 'skip' as never }), { code: 'INVALID_OPTION' });
  t.throws(() => createPoller({ client: env.client, onProgress: 'log' as never }), { code: 'INVALID_OPTION' });
});

t.test('a failed batch is BATCH_FAILED with its batch id, shard and errors; or emitted with onFailed: emit', async (t) => {
  const env = await transport(t);
  const bad = await uploadText(env.client, env.dir, 4, `${chatRequest('a')}\n{"method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[]}}\n`);
  const shard = await submitShard(env.client, bad, normalizeSubmitOptions());
  const options = { initialDelayMs: 10, maxDelayMs: 20 };
  const err = await rejection(pollShard(env.client, shard, normalizePollOptions(options)));
  t.match(err, { name: 'BatchFailedError', code: 'BATCH_FAILED', batchId: shard.batchId, shard: 4, status: 'failed', apiCode: 'missing_required_parameter' });
  t.match(err.items, [{ code: 'missing_required_parameter', line: 2 }]);
  t.match(err.message, /line 2/);
  t.equal(err.batch.id, shard.batchId, 'the final batch rides along (not in its JSON)');
  t.notOk('batch' in err.toJSON());
  const events: PollProgress[] = [];
  const polled = await pollShard(env.client, shard, normalizePollOptions({ ...options, onFailed: 'emit', onProgress: (e) => events.push(e) }));
  t.match(polled, { batch: { status: 'failed' }, failure: { code: 'BATCH_FAILED', batchId: shard.batchId } });
  t.match(events.at(-1), { terminal: true, failure: { code: 'BATCH_FAILED' } });
  const stage = await rejection(pollAll([shard], { client: env.client, ...options }));
  t.match(stage, { code: 'BATCH_FAILED', shard: 4 }, 'the stage fails with it by default');
});

t.test('a batch over the enqueued-token limit is TOKEN_LIMIT_EXCEEDED', async (t) => {
  const env = await transport(t, { tokenLimit: 1 });
  const [shard] = await submitted(env, 1);
  const err = await rejection(waitForBatch(env.client, shard.batchId, { initialDelayMs: 10 }));
  t.match(err, { code: 'TOKEN_LIMIT_EXCEEDED', batchId: shard.batchId, apiCode: 'token_limit_exceeded', status: 'failed' });
  const [emitted] = await pollAll([shard], { client: env.client, onFailed: 'emit', initialDelayMs: 10 });
  t.match(emitted, { failure: { code: 'TOKEN_LIMIT_EXCEEDED', shard: 0 } }, 'a caller can resubmit the shard later');
});

t.test('404 and 401 are not retried', async (t) => {
  const env = await transport(t, { apiKey: KEY });
  t.match(await rejection(waitForBatch(env.client, 'batch_missing')), { code: 'API_NOT_FOUND', status: 404, attempts: 1, batchId: 'batch_missing' });
  const wrongKey = new ApiClient({ apiKey: 'sk-other-key-9876', baseURL: `${env.emulator.url}/v1`, retry: FAST_RETRY });
  t.match(await rejection(waitForBatch(wrongKey, 'batch_x')), { code: 'API_UNAUTHORIZED', attempts: 1 });
  await t.rejects(waitForBatch(env.client, ''), { code: 'INVALID_OPTION' });
  t.throws(() => createPoller({ client: env.client, initialDelayMs: -5 }), { code: 'INVALID_OPTION' });
});

t.test('an abort mid-poll ends the wait at once', async (t) => {
  const env = await transport(t, { batchDurationMs: 60_000 });
  const [shard] = await submitted(env, 1);
  const controller = new AbortController();
  const pending = rejection(
    pollAll([shard], { client: env.client, usePollAfter: false, initialDelayMs: 3_600_000, signal: controller.signal, onProgress: () => controller.abort() }),
  );
  const started = performance.now();
  t.match(await pending, { code: 'ABORTED' });
  t.ok(performance.now() - started < 5000, 'did not wait out the hour');
});

t.test('an aborted poll and download leave no timer or socket: the process exits by itself', async (t) => {
  const script = join(import.meta.dirname, 'fixtures', 'abort-transport.ts');
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code, signal] = await once(child, 'exit');
  clearTimeout(killer);
  t.equal(signal, null, `exited by itself (${output.trim()})`);
  t.equal(code, 0, output);
  t.match(output, /poll: ABORTED\ndownload: ABORTED\n/);
});
