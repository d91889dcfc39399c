/**
 * The run engine's pieces on their own: the journal (group commit, a torn
 * last line, a damaged one), the lock, the token scheduler, the step fold,
 * and a stopped local run cancelled from its state dir.
 */
import t from 'tap';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { FileRunStore, parseJournal } from '../src/run/file-store.ts';
import { acquireRunLock, lockOwner } from '../src/run/lock.ts';
import { TokenScheduler } from '../src/core/token-scheduler.ts';
import { FOLLOW_UP_BASE, foldRunSteps, unitPhase, type RunStep, type UnitSpec } from '../src/core/run-state.ts';
import { cancelRun, runBatch, runStatus } from '../src/pipeline.ts';
import { tempDir } from './helpers/temp.ts';
import { rejection } from './helpers/emulator.ts';

const spec = (index: number, extra: Partial<UnitSpec> = {}): UnitSpec => ({
  index,
  origin: index,
  attempt: 1,
  parent: null,
  path: `shards/s-${index}.jsonl`,
  bytes: 10,
  requests: 2,
  endpoint: '/v1/chat/completions',
  model: 'm',
  firstLine: 1,
  lastLine: 2,
  sha256: 'a'.repeat(64),
  md5: 'b'.repeat(32),
  tokens: 5,
  ...extra,
});

t.test('the journal: steps recorded together share a sync, come back in order, and survive a reopen', async (t) => {
  const dir = await tempDir(t, 'batchline-store-');
  const store = new FileRunStore(dir);
  t.same(await store.load(), { header: null, steps: [] });
  await store.begin({ version: 1, runId: 'run_x', createdAt: 1, fingerprint: 'f', settings: {}, input: { kind: 'stream' }, local: false });
  const steps: RunStep[] = [{ kind: 'shard', unit: spec(0) }, { kind: 'upload-begun', unit: 0 }, { kind: 'uploaded', unit: 0, fileId: 'file-1' }];
  await Promise.all(steps.map((step) => store.record(step)));
  await store.close();
  const again = await new FileRunStore(dir).load();
  t.equal(again.header?.runId, 'run_x');
  t.same(again.steps, steps);
  const state = foldRunSteps(again.steps);
  t.equal(state.units.get(0)?.fileId, 'file-1');
  t.equal(unitPhase(state.units.get(0)!), 'uploaded');
});

t.test('a torn last line is dropped (and cut off, except by a read-only reader); a damaged one is RUN_STATE_CORRUPT', async (t) => {
  const dir = await tempDir(t, 'batchline-store-');
  const journal = join(dir, 'journal.jsonl');
  await writeFile(journal, `${JSON.stringify({ kind: 'shard', unit: spec(0) })}\n{"kind":"upload-beg`);
  const reader = new FileRunStore(dir, { readOnly: true });
  t.equal((await reader.listSteps()).length, 1);
  t.match(await readFile(journal, 'utf8'), /upload-beg$/, 'a reader beside a live run leaves the file alone');
  t.match(await rejection(reader.record({ kind: 'upload-begun', unit: 0 })), /read-only/);
  const store = new FileRunStore(dir);
  t.equal((await store.listSteps()).length, 1);
  await store.record({ kind: 'upload-begun', unit: 0 });
  await store.close();
  t.same((await new FileRunStore(dir).listSteps()).map((s) => s.kind), ['shard', 'upload-begun'], 'the next append starts on a line of its own');

  await appendFile(journal, 'not json\n{"kind":"ended","unit":0}\n');
  t.match(await rejection(new FileRunStore(dir).listSteps()), { code: 'RUN_STATE_CORRUPT', line: 3 });
  t.throws(() => parseJournal('[1]\n', 'j'), { code: 'RUN_STATE_CORRUPT' });
  t.throws(() => foldRunSteps([{ kind: 'uploaded', unit: 9, fileId: 'f' }]), { code: 'RUN_STATE_CORRUPT' });
  t.throws(() => foldRunSteps([{ kind: 'nonsense' } as unknown as RunStep]), { code: 'RUN_STATE_CORRUPT' });
  await writeFile(join(dir, 'run.json'), '{"version":2}');
  t.match(await rejection(new FileRunStore(dir).load()), { code: 'RUN_STATE_CORRUPT' });
});

t.test('the fold: a settled unit with a follow-up makes the next unit and moves the follow-up counter', async (t) => {
  const state = foldRunSteps([
    { kind: 'shard', unit: spec(0) },
    { kind: 'submit-begun', unit: 0, fileId: 'f' },
    { kind: 'submitted', unit: 0, batchId: 'batch_1', adopted: true },
    { kind: 'ended', unit: 0, batch: { status: 'expired', outputFileId: null, errorFileId: 'e', requestCounts: { total: 2, completed: 0, failed: 2 }, usage: null, errors: [] } },
    { kind: 'downloaded', unit: 0, files: { output: null, error: 'results/e.jsonl', failed: null } },
    { kind: 'settled', unit: 0, retried: 2, followUp: spec(FOLLOW_UP_BASE, { attempt: 2, parent: 0 }) },
  ]);
  t.equal(state.nextFollowUp, FOLLOW_UP_BASE + 1);
  t.equal(state.units.get(0)?.followUp, FOLLOW_UP_BASE);
  t.equal(unitPhase(state.units.get(0)!), 'settled');
  t.equal(unitPhase(state.units.get(FOLLOW_UP_BASE)!), 'sharded');
  t.equal(state.units.get(0)?.adopted, true);
});

t.test('the lock: one live holder; a dead holder’s lock is taken over; another host’s is refused', async (t) => {
  const dir = await tempDir(t, 'batchline-lock-');
  const lock = await acquireRunLock(dir);
  t.match(await lockOwner(dir), { pid: process.pid });
  t.match(await rejection(acquireRunLock(dir)), { code: 'RUN_LOCKED', message: /in progress in process/ });
  await lock.release();
  t.equal(await lockOwner(dir), null);
  await writeFile(join(dir, 'lock'), JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), startedAt: 0 }));
  t.equal(await lockOwner(dir), null, 'a dead process holds nothing');
  const taken = await acquireRunLock(dir);
  await taken.release();
  await writeFile(join(dir, 'lock'), JSON.stringify({ pid: 1, host: 'elsewhere.example', startedAt: 0 }));
  t.match(await rejection(acquireRunLock(dir)), { code: 'RUN_LOCKED', message: /on host elsewhere\.example/ });
  await writeFile(join(dir, 'lock'), JSON.stringify({ pid: process.pid, host: hostname(), startedAt: 0 }));
  t.equal(await lockOwner(dir), null, 'our own pid in a lock we do not hold: an earlier process that had our pid');
  const reused = await acquireRunLock(dir);
  await reused.release();
  await writeFile(join(dir, 'lock'), 'half a lock');
  const overTorn = await acquireRunLock(dir);
  await overTorn.release();
  // The same dir by another path (a symlink, a relative path) is the same lock.
  const { symlink } = await import('node:fs/promises');
  const { relative } = await import('node:path');
  const alias = join(dir, '..', `${dir.split(/[\\/]/).pop()}-alias`);
  await symlink(dir, alias);
  t.teardown(() => import('node:fs/promises').then(({ rm }) => rm(alias, { force: true })));
  const held = await acquireRunLock(dir);
  t.match(await lockOwner(alias), { pid: process.pid }, 'seen as held through a symlink');
  t.match(await lockOwner(relative(process.cwd(), dir)), { pid: process.pid }, 'and through a relative path');
  t.match(await rejection(acquireRunLock(alias)), { code: 'RUN_LOCKED' });
  await held.release();
});

t.test('the token scheduler learns from a token-limit failure: the batches seen running, and the limit the error names', async (t) => {
  const { namedTokenLimit } = await import('../src/run/unit.ts');
  t.equal(namedTokenLimit('Enqueued token limit reached for gpt-4o in organization org-x. Limit: 90,000 enqueued tokens. Please try again'), 90_000);
  t.equal(namedTokenLimit('something else'), undefined);
  t.equal(namedTokenLimit(null), undefined);
  const scheduler = new TokenScheduler(undefined);
  const a = await scheduler.acquire('m', 0);
  const b = await scheduler.acquire('m', 0);
  scheduler.running('m', 1);
  scheduler.running('m', 2);
  t.equal(scheduler.maxRunning('m'), Infinity);
  t.equal(scheduler.congested('m-2024-05-13', 500), 2, 'two batches of the model seen running (a snapshot shares the queue)');
  t.equal(scheduler.maxRunning('m'), 2);
  let third = false;
  const waiting = scheduler.acquire('m', 0).then((release) => ((third = true), release));
  await new Promise((r) => setImmediate(r));
  t.equal(third, false, 'a third waits while two run');
  scheduler.ended('m', 1, false);
  a();
  (await waiting)();
  t.equal(third, true, 'and goes once one ends');
  // The named limit now bounds tokens beside others, though none was configured.
  b();
  const big = await scheduler.acquire('m', 400);
  let over = false;
  const overLimit = scheduler.acquire('m', 200).then((release) => ((over = true), release));
  await new Promise((r) => setImmediate(r));
  t.equal(over, false, '400 + 200 is over the 500 the error named');
  big();
  (await overLimit)();
  scheduler.ended('m', 2, false);
  t.equal(scheduler.congested('m'), 0);
  t.equal(scheduler.maxRunning('m'), 1, 'never below one');
  // A full round ending raises it by one: one batch at a cap of one, then two at two.
  for (const unit of [10, 11, 12]) {
    const release = await scheduler.acquire('m', 0);
    scheduler.running('m', unit);
    scheduler.ended('m', unit, false);
    release();
  }
  t.equal(scheduler.maxRunning('m'), 3, '1 → 2 after one ended, 2 → 3 after two more');
  scheduler.ended('m', 99, false);
  t.equal(scheduler.maxRunning('m'), 3, 'a batch never seen running, and not completed, does not count');
  for (const unit of [20, 21, 22]) scheduler.ended('m', unit, true);
  t.equal(scheduler.maxRunning('m'), 4, 'one that completed between two polls counts');
  t.equal(scheduler.maxRunning('unknown'), Infinity);
});

t.test('the token scheduler: FIFO per model under the limit; a lone batch over it goes; abort leaves the queue', async (t) => {
  const scheduler = new TokenScheduler({ big: 100, '*': 50 });
  t.equal(scheduler.limitOf('big-2024-01-01'), 100, 'a dated snapshot has its base name’s limit');
  t.equal(scheduler.limitOf('other'), 50);
  t.equal(scheduler.limitOf('big-mini'), 50, 'another model whose name begins the same is not the same model');
  const snapshot = await scheduler.acquire('big-2024-01-01', 1);
  t.equal(scheduler.inFlight('big'), 1, 'a snapshot counts in its base model’s queue');
  snapshot();
  t.equal(new TokenScheduler(undefined).limitOf('x'), Infinity);
  t.equal(new TokenScheduler(7).limitOf('x'), 7);
  const first = await scheduler.acquire('big', 60);
  const order: string[] = [];
  const second = scheduler.acquire('big', 60).then((release) => (order.push('second'), release));
  const third = scheduler.acquire('big', 30).then((release) => (order.push('third'), release));
  const controller = new AbortController();
  const aborted = scheduler.acquire('big', 10, controller.signal);
  await new Promise((r) => setImmediate(r));
  t.same(order, [], 'nothing fits beside the first');
  t.equal(scheduler.inFlight('big'), 60);
  controller.abort();
  t.match(await rejection(aborted), { code: 'ABORTED' });
  first();
  first();
  const releaseSecond = await second;
  const releaseThird = await third;
  t.same(order, ['second', 'third'], 'first come, first served');
  t.equal(scheduler.inFlight('big'), 90);
  releaseSecond();
  releaseThird();
  const huge = await scheduler.acquire('big', 500);
  t.equal(scheduler.inFlight('big'), 500, 'a batch over the limit alone goes when nothing else of its model runs');
  const ended = scheduler.afterNextEnd('big', () => new Promise(() => undefined), 1e9);
  huge();
  await ended;
  await scheduler.afterNextEnd('idle', () => Promise.resolve(), 0);
  t.match(await rejection(scheduler.acquire('big', 1, AbortSignal.abort())), { code: 'ABORTED' });
});

t.test('cancelRun on a stopped local run cancels its live batches through the emulator in its state dir', async (t) => {
  const dir = await tempDir(t, 'batchline-cancel-');
  const input = join(dir, 'in.jsonl');
  await writeFile(
    input,
    Array.from({ length: 30 }, (_, i) => JSON.stringify({ custom_id: `k${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] } }) + '\n').join(''),
  );
  const state = join(dir, 'state');
  const controller = new AbortController();
  const stopped = runBatch({
    input,
    stateDir: state,
    local: { batchDurationMs: 600_000 },
    maxRequests: 10,
    poll: { initialDelayMs: 10, maxDelayMs: 20 },
    signal: controller.signal,
    onProgress: (p) => (p.batches.in_progress ?? 0) + (p.batches.validating ?? 0) >= 3 && controller.abort(),
  });
  t.match(await rejection(stopped), { code: 'ABORTED' });
  const before = await runStatus(state);
  t.equal(before.batches.filter((b) => b.batchId).length, 3);
  const result = await cancelRun(state);
  t.equal(result.handedToLiveRun, false);
  t.equal(result.cancelled.length, 3, 'every live batch cancelled');
  t.equal((await runStatus(state)).cancelRequested, true);
  t.match(await rejection(cancelRun(join(dir, 'none'))), { code: 'RUN_NOT_FOUND' });
});

t.test('readStatuses: plain successes by their custom_id, everything else parsed, compact or spaced JSON', async (t) => {
  const { readStatuses } = await import('../src/run/heal.ts');
  const dir = await tempDir(t, 'batchline-heal-');
  const out = join(dir, 'out.jsonl');
  const err = join(dir, 'err.jsonl');
  await writeFile(
    out,
    [
      '{"id":"1","custom_id":"a","response":{"status_code":200,"request_id":"r","body":{}},"error":null}',
      '{"id": "2", "custom_id": "b", "response": {"status_code": 200, "request_id": "r", "body": {}}, "error": null}',
      // A 500 whose body quotes a success: not plainly one, so parsed.
      '{"id":"3","custom_id":"c","response":{"status_code":500,"request_id":"r","body":{"response":{"status_code":200,"x":1},"error":null}},"error":null}',
      '{"id":"4","custom_id":"d","response":{"status_code":200,"request_id":"r","body":{}},"error":{"code":"batch_expired","message":"m"}}',
      // A nested success ahead of the top-level 500.
      '{"id":"6","custom_id":"f","meta":{"response":{"status_code":200,"x":1}},"response":{"status_code":500,"request_id":"r","body":{}},"error":null}',
    ].join('\n') + '\n',
  );
  await writeFile(err, '{"id":"5","custom_id":"e","response":{"status_code":400,"request_id":"r","body":{}},"error":null}\n');
  const statuses = await readStatuses([
    { path: out, output: true },
    { path: err, output: false },
  ]);
  t.same(Object.fromEntries(statuses), { a: 'succeeded', b: 'succeeded', c: 'failed', d: 'expired', f: 'failed', e: 'rejected' });
  const broken = join(dir, 'broken.jsonl');
  await writeFile(broken, '{"id":"1","custom_id":"a","response":{"status_code":200,"request_id":"r","body":{"x":tru}},"error":null}\n');
  t.match(await rejection(readStatuses([{ path: broken, output: true }])), { code: 'INVALID_RESULT_LINE' }, 'a broken line that looks like a success is refused');
});

t.test('final result lines: one per request along a chain of follow-ups, whichever ran or gave no file', async (t) => {
  const { SettledUnits } = await import('../src/run/final-results.ts');
  const { mkdir } = await import('node:fs/promises');
  const dir = await tempDir(t, 'batchline-final-');
  await mkdir(join(dir, 'shards'));
  await mkdir(join(dir, 'results'));
  const req = (id: string) => JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o', messages: [] } });
  const answer = (id: string, code: number) => JSON.stringify({ id: 'r', custom_id: id, response: { status_code: code, body: {} }, error: null });
  await writeFile(join(dir, 'shards/shard-0.jsonl'), [req('a'), req('b'), req('c')].join('\n') + '\n');
  await writeFile(join(dir, 'shards/retry-1.jsonl'), [req('b'), req('c')].join('\n') + '\n');
  await writeFile(join(dir, 'shards/retry-2.jsonl'), [req('b'), req('c')].join('\n') + '\n');
  await writeFile(join(dir, 'shards/retry-3.jsonl'), req('c') + '\n');
  // P answers a and fails b and c (plus a line without a custom_id); A expires with no file at all;
  // B answers b and fails c; C (c again) is cancelled before it goes out.
  await writeFile(join(dir, 'results/P_output.jsonl'), [answer('a', 200), answer('b', 500), answer('c', 500), '{"id":"r","response":null,"error":null}'].join('\n') + '\n');
  await writeFile(join(dir, 'results/B_output.jsonl'), [answer('b', 200), answer('c', 502)].join('\n') + '\n');
  const spec = (index: number, path: string, attempt: number, parent: number | null, requests: number): UnitSpec =>
    ({ index, origin: 0, attempt, parent, path, bytes: 1, requests, endpoint: '/v1/chat/completions', model: 'gpt-4o', firstLine: 1, lastLine: 3, sha256: `x${index}`, md5: 'y', tokens: 0 });
  const end = (status: 'completed' | 'expired', out: string | null) => ({ status, outputFileId: out, errorFileId: null, requestCounts: { total: 1, completed: 0, failed: 0 }, usage: null, errors: [] });
  const A = spec(FOLLOW_UP_BASE, 'shards/retry-1.jsonl', 2, 0, 2);
  const B = spec(FOLLOW_UP_BASE + 1, 'shards/retry-2.jsonl', 3, A.index, 2);
  const C = spec(FOLLOW_UP_BASE + 2, 'shards/retry-3.jsonl', 4, B.index, 1);
  const ran = (index: number, id: string, status: 'completed' | 'expired', output: string | null): RunStep[] => [
    { kind: 'submitted', unit: index, batchId: id, adopted: false },
    { kind: 'ended', unit: index, batch: end(status, output ? 'f' : null) },
    { kind: 'downloaded', unit: index, files: { output, error: null, failed: null } },
  ];
  const steps: RunStep[] = [
    { kind: 'shard', unit: spec(0, 'shards/shard-0.jsonl', 1, null, 3) },
    ...ran(0, 'P', 'completed', 'results/P_output.jsonl'),
    { kind: 'settled', unit: 0, retried: 2, followUp: A },
    ...ran(A.index, 'A', 'expired', null),
    { kind: 'settled', unit: A.index, retried: 2, followUp: B },
    ...ran(B.index, 'B', 'completed', 'results/B_output.jsonl'),
    { kind: 'settled', unit: B.index, retried: 1, followUp: C },
    { kind: 'settled', unit: C.index, retried: 0, followUp: null },
  ];
  const state = foldRunSteps(steps);
  const settled = new SettledUnits();
  for (const unit of state.units.values()) settled.push(unit);
  settled.close();
  let text = '';
  for await (const chunk of settled.lines(dir, state, new AbortController().signal)) text += Buffer.from(chunk).toString();
  const got = text.trim().split('\n').map((l) => JSON.parse(l) as { custom_id?: string; response: { status_code: number } | null });
  t.same(
    got.map((l) => `${l.custom_id ?? '-'}:${l.response?.status_code ?? 'null'}`).sort(),
    ['-:null', 'a:200', 'b:200', 'c:502'],
    'a from P, b from B, c as B left it (C never went out), the id-less line once; nothing from A, which gave no file',
  );
});

t.test('the fingerprint names the API the batches go to, the default one however it is given', async (t) => {
  const { normalizeRunOptions } = await import('../src/run/options.ts');
  const { ApiClient } = await import('../src/openai/client.ts');
  const saved = process.env.OPENAI_BASE_URL;
  delete process.env.OPENAI_BASE_URL;
  t.teardown(() => {
    if (saved !== undefined) process.env.OPENAI_BASE_URL = saved;
  });
  const print = (extra: object) => normalizeRunOptions({ input: 'in.jsonl', ...extra }).fingerprint;
  const plain = print({ apiKey: 'k' });
  t.equal(print({ client: new ApiClient({ apiKey: 'k' }) }), plain, 'an ApiClient on the default API');
  t.equal(print({ client: { apiKey: 'k' } }), plain, 'client options without a URL');
  t.equal(print({ baseURL: 'https://api.openai.com/v1/' }), plain, 'the default URL spelt out');
  t.not(print({ client: new ApiClient({ apiKey: 'k', baseURL: 'http://127.0.0.1:9/v1' }) }), plain, 'another API is another run');
  t.not(print({ local: true }), plain);
});
