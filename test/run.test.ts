/**
 * runBatch end to end against the emulator: ordered, complete results for a
 * multi-shard, multi-model run; failures healed in follow-up batches
 * (transient 5xx lines, an expired batch, a cancelled one, a token-limit
 * failure); the token scheduler; the sinks; a changed input or changed
 * options refused; one live run per state dir; abort.
 */
import t, { type Test } from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { startEmulator, type EmulatorOptions } from '../src/emulator/index.ts';
import { runBatch, planRun, runStatus, cancelRun, type RunProgress, type RunSummary } from '../src/pipeline.ts';
import { ApiClient } from '../src/openai/client.ts';
import type { JoinedResult } from '../src/types.ts';
import { tempDir } from './helpers/temp.ts';
import { rejection } from './helpers/emulator.ts';

const FAST_POLL = { initialDelayMs: 10, maxDelayMs: 40, maxRequestsPerSecond: 1000 };

function request(i: number, model: string, url = '/v1/chat/completions') {
  const body = url === '/v1/embeddings' ? { model, input: `text ${i}` } : { model, messages: [{ role: 'user', content: `question ${i} ${'x'.repeat(i % 40)}` }] };
  return { custom_id: `r${i}`, method: 'POST', url, body };
}

function inputText(n: number): string {
  let text = '';
  for (let i = 1; i <= n; i++) {
    const route = i % 4;
    text += JSON.stringify(route === 0 ? request(i, 'text-embedding-3-small', '/v1/embeddings') : request(i, route === 1 ? 'gpt-4.1-mini' : 'gpt-4o-mini')) + '\n';
  }
  return text;
}

async function setup(t: Test, emulatorOptions: EmulatorOptions, n = 400) {
  const dir = await tempDir(t, 'batchline-run-');
  const input = join(dir, 'input.jsonl');
  await writeFile(input, inputText(n));
  const emulator = await startEmulator({ batchDurationMs: 100, seed: 5, ...emulatorOptions });
  t.teardown(() => emulator.close());
  const client = new ApiClient({ baseURL: `${emulator.url}/v1`, apiKey: 'k', retry: { baseDelayMs: 5 } });
  return { dir, input, emulator, client };
}

async function lines(path: string): Promise<JoinedResult[]> {
  return (await readFile(path, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as JoinedResult);
}

function inOrder(t: Test, results: JoinedResult[], n: number): void {
  t.same(
    results.map((r) => r.custom_id),
    Array.from({ length: n }, (_, i) => `r${i + 1}`),
    'one result per request, in input order',
  );
}

t.test('a multi-shard, multi-model, multi-endpoint run gives every answer in input order', async (t) => {
  const { dir, input, client, emulator } = await setup(t, { errorRate: 0.03 });
  const progress: RunProgress[] = [];
  const out = join(dir, 'out.jsonl');
  const summary = await runBatch({ input, output: out, stateDir: join(dir, 'state'), client, maxRequests: 40, poll: FAST_POLL, onProgress: (p) => progress.push(p) });
  const results = await lines(out);
  inOrder(t, results, 400);
  t.equal(summary.requests, 400);
  t.equal(summary.counts.succeeded + summary.counts.rejected, 400, 'rejected (4xx) lines are final, not retried');
  t.ok(summary.counts.rejected > 0);
  t.equal(summary.followUps, 0);
  t.same(new Set(summary.batches.map((b) => b.model)), new Set(['gpt-4.1-mini', 'gpt-4o-mini', 'text-embedding-3-small']));
  t.ok(summary.batches.length >= 10, 'several shards per model');
  t.ok(summary.batches.every((b) => b.status === 'completed' && b.batchId && b.inputFileId && b.outputPath));
  t.ok(summary.usage.input_tokens > 0 && summary.usage.byModel['gpt-4o-mini'].output_tokens > 0);
  t.equal(emulator.batches.list({ limit: 100 }).data.length, summary.batches.length, 'one batch per shard on the API');
  t.equal(progress.at(-1)?.phase, 'done');
  t.ok(progress.some((p) => p.phase === 'ingest' && (p.batches.uploading ?? 0) + (p.batches.uploaded ?? 0) + (p.batches.submitting ?? 0) + (p.batches.submitted ?? 0) > 0), 'shards go up while the input is still being sharded');
  const status = await runStatus(summary.stateDir);
  t.equal(status.runId, summary.runId);
  t.same(status.joined, { output: out, requests: 400 });
  t.equal(status.owner, null, 'no process holds the finished run');
});

t.test('transient failures, an expired batch and a token-limit failure are healed in follow-up batches', async (t) => {
  const { dir, input, client } = await setup(t, {
    transientErrorRate: 0.1,
    batchFaults: [
      { batch: 2, kind: 'expire' },
      { batch: 3, kind: 'token_limit_exceeded' },
    ],
  });
  const out = join(dir, 'out.jsonl');
  const logs: string[] = [];
  const summary = await runBatch({ input, output: out, stateDir: join(dir, 'state'), client, maxRequests: 100, maxAttempts: 6, tokenLimitRetryMs: 10, poll: FAST_POLL, onLog: (l) => logs.push(l) });
  const results = await lines(out);
  inOrder(t, results, 400);
  t.equal(summary.counts.succeeded, 400, `every request answered in the end: ${JSON.stringify(summary.counts)}`);
  t.ok(summary.followUps >= 2, 'follow-up batches were made');
  t.ok(summary.batches.some((b) => b.status === 'expired'), 'one batch expired');
  t.ok(summary.batches.some((b) => b.status === 'failed'), 'one batch failed on the token limit');
  const tokenRetry = summary.batches.find((b) => b.attempt > 1 && summary.batches.find((p) => p.status === 'failed' && p.index === b.origin && b.requests === p.requests));
  t.ok(tokenRetry, 'the token-limited shard went again whole');
  t.ok(logs.some((l) => /go again/.test(l)));
  t.ok(summary.retriedRequests > 0);
});

t.test('a batch cancelled from elsewhere (the dashboard, another tool) is healed: its unfinished requests go again', async (t) => {
  const { dir, input, client, emulator } = await setup(t, { batchDurationMs: 400, cancelDurationMs: 20 }, 120);
  const out = join(dir, 'out.jsonl');
  let cancelled: string | undefined;
  const summary = await runBatch({
    input,
    output: out,
    stateDir: join(dir, 'state'),
    client,
    maxRequests: 40,
    poll: FAST_POLL,
    onProgress: (p) => {
      if (cancelled || (p.batches.in_progress ?? 0) === 0) return;
      const running = emulator.batches.list({ limit: 100 }).data.find((b) => b.status === 'in_progress');
      if (running) {
        cancelled = running.id;
        void emulator.batches.cancel(running.id);
      }
    },
  });
  t.ok(cancelled, 'a batch was cancelled mid-run');
  t.equal(summary.cancelled, false, 'the run itself was not');
  t.ok(summary.batches.some((b) => b.batchId === cancelled && b.status === 'cancelled'));
  t.ok(summary.followUps >= 1);
  t.equal(summary.counts.succeeded, 120, `every request answered: ${JSON.stringify(summary.counts)}`);
  inOrder(t, await lines(out), 120);
});

t.test('maxAttempts bounds the tries; what is still failing is reported failed, not lost', async (t) => {
  const { dir, input, client } = await setup(t, { transientErrorRate: 1 }, 60);
  const out = join(dir, 'out.jsonl');
  const summary = await runBatch({ input, output: out, stateDir: join(dir, 'state'), client, maxRequests: 100, maxAttempts: 2, poll: FAST_POLL });
  const results = await lines(out);
  inOrder(t, results, 60);
  t.equal(summary.counts.failed, 60);
  t.ok(results.every((r) => r.status === 'failed' && r.response?.status_code === 500));
  t.equal(Math.max(...summary.batches.map((b) => b.attempt)), 2);
});

t.test('token-limit failures while the queue is full teach the scheduler and do not use up tries', async (t) => {
  const dir = await tempDir(t, 'batchline-run-');
  const input = join(dir, 'input.jsonl');
  // Requests of one size, so that every batch counts the same tokens.
  const same = (i: number) => ({ custom_id: `r${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `question ${String(i).padStart(3, '0')}` }] } });
  await writeFile(input, Array.from({ length: 80 }, (_, i) => JSON.stringify(same(i + 1)) + '\n').join(''));
  // The tokens the emulator counts for one batch of 10, measured on an emulator without a limit.
  const free = await startEmulator({ batchDurationMs: 20, seed: 5 });
  t.teardown(() => free.close());
  const freeClient = new ApiClient({ baseURL: `${free.url}/v1`, apiKey: 'k', retry: { baseDelayMs: 5 } });
  const measured = await runBatch({ input, stateDir: join(dir, 'measure'), client: freeClient, maxRequests: 10, poll: FAST_POLL });
  const perBatch = measured.usage.input_tokens / measured.batches.length;
  // Room for two batches of the model at once; eight are sent, four at a time.
  const limited = await startEmulator({ batchDurationMs: 300, seed: 5, tokenLimit: Math.floor(perBatch * 2.5) });
  t.teardown(() => limited.close());
  const client = new ApiClient({ baseURL: `${limited.url}/v1`, apiKey: 'k', retry: { baseDelayMs: 5 } });
  const logs: string[] = [];
  const out = join(dir, 'out.jsonl');
  const summary = await runBatch({ input, output: out, stateDir: join(dir, 'state'), client, maxRequests: 10, maxAttempts: 1, tokenLimitRetryMs: 2000, poll: FAST_POLL, onLog: (l) => logs.push(l) });
  inOrder(t, await lines(out), 80);
  t.equal(summary.counts.succeeded, 80, `one try each, and yet every request answered: ${JSON.stringify(summary.counts)}`);
  const refused = summary.batches.filter((b) => b.status === 'failed');
  t.ok(refused.length > 0, 'some batches were refused on the token limit');
  t.ok(logs.some((l) => /not counted as a try/.test(l)), 'the resubmissions say they are not tries');
  // Taught by the first wave, the scheduler lets about two run at once, probing for a third now and then:
  // without it every round of resubmissions meets the full queue again (21–28 refusals here).
  t.ok(refused.length <= 12, `${refused.length} refusals`);
});

t.test('the token scheduler keeps the enqueued tokens of a model under its limit', async (t) => {
  const { dir, input, client, emulator } = await setup(t, { batchDurationMs: 60 });
  const estimate = () => 100;
  let peak = 0;
  const timer = setInterval(() => {
    const running = emulator.batches.list({ limit: 100 }).data.filter((b) => b.model === 'gpt-4o-mini' && !['completed', 'failed', 'expired', 'cancelled'].includes(b.status));
    peak = Math.max(peak, running.reduce((sum, b) => sum + b.request_counts.total, 0) || running.length * 20);
  }, 2);
  t.teardown(() => clearInterval(timer));
  const summary = await runBatch({ input, stateDir: join(dir, 'state'), client, maxRequests: 20, tokenLimit: { 'gpt-4o-mini': 4000 }, estimateTokens: estimate, poll: FAST_POLL });
  clearInterval(timer);
  t.equal(summary.counts.succeeded, 400);
  // 20 requests × 100 tokens = 2000 a batch: at most two gpt-4o-mini batches run at once.
  t.ok(peak <= 40, `at most 40 gpt-4o-mini requests enqueued at once, saw ${peak}`);
});

t.test('results go to a Writable or an awaited callback; a stream source is spooled', async (t) => {
  const { dir, client } = await setup(t, {}, 1);
  const rows = Array.from({ length: 30 }, (_, i) => ({ id: i + 1, question: `q${i + 1}` }));
  const seen: JoinedResult[] = [];
  const summary = await runBatch({
    input: rows,
    build: { customId: (row: { id: number }) => `row-${row.id}`, endpoint: '/v1/chat/completions', body: (row: { question: string }) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: row.question }] }) },
    output: async (result) => {
      await new Promise((r) => setImmediate(r));
      seen.push(result);
    },
    stateDir: join(dir, 'rows'),
    client,
    poll: FAST_POLL,
  });
  t.equal(summary.counts.succeeded, 30);
  t.same(seen.map((r) => r.custom_id), rows.map((r) => `row-${r.id}`));

  let text = '';
  const sink = new Writable({ write(chunk, _e, done) { text += chunk; done(); } });
  await runBatch({ input: Readable.from([inputText(12)]), output: sink, stateDir: join(dir, 'readable'), client, poll: FAST_POLL });
  t.equal(text.trim().split('\n').length, 12);
});

t.test('a stream source is sharded as it comes: its first batches are out before it ends', async (t) => {
  const { dir, client, emulator } = await setup(t, { batchDurationMs: 50 }, 1);
  let sawBatch = false;
  async function* rows() {
    for (let i = 1; i <= 30; i++) yield request(i, 'gpt-4o-mini');
    // The rest waits until a batch of the first rows exists (or 10 s, and the test fails).
    for (let waited = 0; waited < 10_000 && !sawBatch; waited += 20) {
      await new Promise((r) => setTimeout(r, 20));
      sawBatch = emulator.batches.list({ limit: 10 }).data.length > 0;
    }
    for (let i = 31; i <= 40; i++) yield request(i, 'gpt-4o-mini');
  }
  const out = join(dir, 'out.jsonl');
  const summary = await runBatch({ input: rows(), output: out, stateDir: join(dir, 'state'), client, maxRequests: 10, poll: FAST_POLL });
  t.ok(sawBatch, 'a batch was made while the source still had rows to give');
  inOrder(t, await lines(out), 40);
  t.equal(summary.counts.succeeded, 40);
  t.equal((await readFile(join(dir, 'state', 'input.jsonl'), 'utf8')).split('\n').length - 1, 40, 'the spool holds the whole source');
});

t.test('a bad row or a failing source stops the run coded, and the source is closed', async (t) => {
  const { dir, client } = await setup(t, {}, 1);
  let closed = false;
  async function* rows() {
    try {
      yield { id: 1, question: 'q1' };
      yield { id: 2 };
      yield { id: 3, question: 'q3' };
    } finally {
      closed = true;
    }
  }
  const build = { customId: (row: { id: number }) => `row-${row.id}`, endpoint: '/v1/chat/completions' as const, body: (row: { question?: string }) => {
    if (row.question === undefined) throw new Error('no question');
    return { model: 'gpt-4o-mini', messages: [{ role: 'user', content: row.question }] };
  } };
  t.match(await rejection(runBatch({ input: rows(), build, stateDir: join(dir, 'bad-row'), client, poll: FAST_POLL })), { code: 'INVALID_ROW', line: 2 });
  t.equal(closed, true, 'the generator was closed (its finally ran)');

  async function* broken() {
    yield JSON.stringify(request(1, 'gpt-4o-mini')) + '\n';
    throw new Error('cursor lost');
  }
  t.match(await rejection(runBatch({ input: broken(), stateDir: join(dir, 'broken'), client, poll: FAST_POLL })), { code: 'INPUT_UNREADABLE', message: /cursor lost/ });
  const circular: Record<string, unknown> = { custom_id: 'c' };
  circular.self = circular;
  t.match(await rejection(runBatch({ input: [circular], stateDir: join(dir, 'circular'), client, poll: FAST_POLL })), { code: 'INVALID_ROW', line: 1 });
});

t.test('a run that fails while its stream source waits for more stops reading it: the stream is destroyed, the spool closed', async (t) => {
  const { dir, client } = await setup(t, {}, 1);
  // Like a pipe that gives one chunk and then stays silent: the first line has no custom_id.
  const source = new Readable({ read() {} });
  source.push(JSON.stringify({ method: 'POST', url: '/v1/chat/completions', body: { model: 'm', messages: [] } }) + '\n');
  t.match(await rejection(runBatch({ input: source, stateDir: join(dir, 'state'), client, poll: FAST_POLL })), { code: 'MISSING_CUSTOM_ID' });
  t.equal(source.destroyed, true, 'the silent stream is destroyed, not left waiting');
});

t.test('validateFirst: a bad line late in the input is refused before any batch is made', async (t) => {
  const { dir, client, emulator } = await setup(t, {}, 1);
  const text = inputText(60) + '{"custom_id":"late","method":"POST","url":"/v1/chat/completions","body":{"messages":[]}}\n';
  const input = join(dir, 'late-bad.jsonl');
  await writeFile(input, text);
  const logs: string[] = [];
  t.match(await rejection(runBatch({ input, stateDir: join(dir, 'first'), client, maxRequests: 10, validateFirst: true, poll: FAST_POLL, onLog: (l) => logs.push(l) })), { line: 61 });
  t.equal(emulator.batches.list({ limit: 100 }).data.length, 0, 'no batch was made');
  t.equal(emulator.files.list().length, 0, 'nothing was uploaded');
  t.ok(logs.some((l) => /before the first upload/.test(l)));
  // A stream source is spooled whole, then checked.
  t.match(await rejection(runBatch({ input: Readable.from([text]), stateDir: join(dir, 'stream'), client, maxRequests: 10, validateFirst: true, poll: FAST_POLL })), { line: 61 });
  t.equal(emulator.batches.list({ limit: 100 }).data.length, 0);
  // A request no shard can hold is refused the same way.
  t.match(await rejection(runBatch({ input, stateDir: join(dir, 'small'), client, maxBytes: 50, validateFirst: true, poll: FAST_POLL })), { code: 'REQUEST_TOO_LARGE' });
  // A good input runs as usual.
  const good = join(dir, 'good.jsonl');
  await writeFile(good, inputText(30));
  const summary = await runBatch({ input: good, stateDir: join(dir, 'good'), client, maxRequests: 10, validateFirst: true, poll: FAST_POLL });
  t.equal(summary.counts.succeeded, 30);
  t.match(await rejection(runBatch({ input: good, validateFirst: 'yes' as unknown as boolean, client })), { code: 'INVALID_OPTION' });
});

t.test('a changed input, changed options and a second live process are refused; a finished run rejoins', async (t) => {
  const { dir, input, client } = await setup(t, {}, 50);
  const state = join(dir, 'state');
  const first = await runBatch({ input, output: join(dir, 'a.jsonl'), stateDir: state, client, poll: FAST_POLL });
  const again = await runBatch({ input, output: join(dir, 'b.jsonl'), stateDir: state, client, poll: FAST_POLL });
  t.equal(again.resumed, true);
  t.equal(again.runId, first.runId);
  t.equal(await readFile(join(dir, 'b.jsonl'), 'utf8'), await readFile(join(dir, 'a.jsonl'), 'utf8'), 'the same results again, no new batch');
  t.equal(again.batches.length, first.batches.length);

  t.match(await rejection(runBatch({ input, stateDir: state, client, maxRequests: 7, poll: FAST_POLL })), { code: 'RUN_OPTIONS_CHANGED' });
  await writeFile(input, inputText(51));
  t.match(await rejection(runBatch({ input, stateDir: state, client, poll: FAST_POLL })), { code: 'RUN_INPUT_CHANGED' });

  await writeFile(join(state, 'lock'), JSON.stringify({ pid: process.ppid, host: (await import('node:os')).hostname(), startedAt: Date.now() }));
  t.match(await rejection(runBatch({ input, stateDir: state, client, poll: FAST_POLL })), { code: 'RUN_LOCKED' });
  await writeFile(join(state, 'lock'), JSON.stringify({ pid: 2 ** 22 + 12345, host: (await import('node:os')).hostname(), startedAt: 0 }));
  t.match(await rejection(runBatch({ input, stateDir: state, client, poll: FAST_POLL })), { code: 'RUN_INPUT_CHANGED' }, 'a dead owner’s lock is taken over');
});

t.test('an abort stops the run at once and leaves it resumable', async (t) => {
  const { dir, input, client } = await setup(t, { batchDurationMs: 100_000 }, 80);
  const controller = new AbortController();
  const state = join(dir, 'state');
  const running = runBatch({ input, stateDir: state, client, maxRequests: 20, poll: FAST_POLL, signal: controller.signal, onProgress: (p) => (p.batches.validating ?? 0) + (p.batches.in_progress ?? 0) > 0 && controller.abort() });
  t.match(await rejection(running), { code: 'ABORTED' });
  const status = await runStatus(state);
  t.ok(status.batches.some((b) => b.batchId), 'the batches made so far are recorded');
  t.equal(status.owner, null, 'the lock is released');
});

t.test('cancelRun stops a run: live batches cancelled, nothing healed, unfinished requests reported cancelled', async (t) => {
  const { dir, input, client } = await setup(t, { batchDurationMs: 2000, cancelDurationMs: 20 }, 80);
  const state = join(dir, 'state');
  let asked = false;
  const summary: RunSummary = await runBatch({
    input,
    stateDir: state,
    client,
    maxRequests: 20,
    poll: FAST_POLL,
    onProgress: (p) => {
      if (!asked && (p.batches.in_progress ?? 0) >= 4) {
        asked = true;
        void cancelRun(state, { client });
      }
    },
  });
  t.equal(summary.cancelled, true);
  t.equal(summary.followUps, 0, 'a cancelled run heals nothing');
  t.ok(summary.counts.cancelled > 0);
  t.equal(summary.counts.missing, 0);
});

t.test('a follow-up cancelled before it went out leaves its parent\'s answers standing, nothing missing', async (t) => {
  const { dir, input, client, emulator } = await setup(t, { batchDurationMs: 20, batchFaults: [{ batch: 1, kind: 'token_limit_exceeded' }] }, 30);
  const state = join(dir, 'state');
  const out = join(dir, 'out.jsonl');
  let asked = false;
  // Once the batch has failed on the token limit its resubmission waits; the run is cancelled meanwhile.
  const watch = setInterval(() => {
    if (asked || !emulator.batches.list({ limit: 10 }).data.some((b) => b.status === 'failed')) return;
    asked = true;
    void cancelRun(state, { client });
  }, 5);
  t.teardown(() => clearInterval(watch));
  const summary = await runBatch({ input, output: out, stateDir: state, client, maxRequests: 100, tokenLimitRetryMs: 1500, poll: FAST_POLL });
  clearInterval(watch);
  t.ok(asked, 'the cancel came while the resubmission waited');
  t.equal(summary.cancelled, true);
  const made = emulator.batches.list({ limit: 100 }).data;
  t.equal(made.length, 3, 'one batch a model; the resubmission never went out');
  const failed = made.find((b) => b.status === 'failed');
  const results = await lines(out);
  inOrder(t, results, 30);
  const limited = results.filter((r) => r.status === 'failed');
  const modelOf = (i: number) => (i % 4 === 0 ? 'text-embedding-3-small' : i % 4 === 1 ? 'gpt-4.1-mini' : 'gpt-4o-mini');
  const ofModel = Array.from({ length: 30 }, (_, i) => `r${i + 1}`).filter((_, i) => modelOf(i + 1) === failed?.model);
  t.same(limited.map((r) => r.custom_id), ofModel, 'each request of the failed batch keeps the answer it had');
  t.ok(limited.length > 0 && limited.every((r) => r.error?.code === 'token_limit_exceeded'));
  t.equal(summary.counts.succeeded, 30 - limited.length, 'the other batches completed');
  t.equal(summary.counts.missing, 0);
});

t.test('a state dir that cannot be written fails coded, naming the path', async (t) => {
  const { dir, input, client } = await setup(t, {}, 5);
  const state = join(dir, 'state');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(state);
  await writeFile(join(state, 'shards'), 'a file where the shard directory goes');
  t.match(await rejection(runBatch({ input, stateDir: state, client, poll: FAST_POLL })), { code: 'RUN_STATE_WRITE_FAILED', path: join(state, 'shards') });
});

t.test('planRun validates, shards and estimates tokens without any upload', async (t) => {
  const { dir, input, emulator } = await setup(t, {}, 100);
  const plan = await planRun({ input, maxRequests: 30 });
  t.equal(plan.dryRun, true);
  t.equal(plan.requests, 100);
  t.same(Object.keys(plan.byModel).sort(), ['gpt-4.1-mini', 'gpt-4o-mini', 'text-embedding-3-small']);
  t.equal(plan.shards.reduce((n, s) => n + s.requests, 0), 100);
  t.ok(plan.estimatedInputTokens > 0);
  t.equal(emulator.files.list().length, 0, 'nothing uploaded');
  const viaRun = await runBatch({ input, maxRequests: 30, dryRun: true, stateDir: join(dir, 'never') });
  t.same(viaRun.shards, plan.shards);
  t.match(await rejection(planRun({ input: join(dir, 'nope.jsonl') })), { code: 'INPUT_UNREADABLE' });
});
