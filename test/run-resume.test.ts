/**
 * runBatch after `kill -9`: a child process runs the trip against an
 * emulator living in this test process, kills itself at one moment (see
 * fixtures/run-child.ts), and the same command run again must finish with
 * one result per request in input order, the same statuses as an undisturbed
 * run, exactly one batch per unit and one stored file per shard on the API.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../src/emulator/index.ts';
import { ApiClient } from '../src/openai/client.ts';
import { cancelRun, runStatus } from '../src/pipeline.ts';
import { tempDir } from './helpers/temp.ts';

const CHILD = fileURLToPath(new URL('./fixtures/run-child.ts', import.meta.url));
const REQUESTS = 600;

function inputText(): string {
  let text = '';
  for (let i = 1; i <= REQUESTS; i++) {
    const model = i % 3 === 0 ? 'gpt-4.1-mini' : 'gpt-4o-mini';
    text += JSON.stringify({ custom_id: `q${i}`, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: `question ${i}` }] } }) + '\n';
  }
  return text;
}

function runChild(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

interface Line {
  custom_id: string;
  line: number;
  status: string;
}

async function readResults(path: string): Promise<Line[]> {
  return (await readFile(path, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
}

const KILL_POINTS = ['shard:3', 'upload:4', 'uploaded:3', 'created:2', 'poll:5', 'download:3', 'join'];

t.test('a run killed with -9 at any phase resumes to the same results, with one batch per shard', async (t) => {
  const dir = await tempDir(t, 'batchline-resume-');
  const input = join(dir, 'input.jsonl');
  await writeFile(input, inputText());
  const emulator = await startEmulator({ batchDurationMs: 150, errorRate: 0.05, seed: 11 });
  t.teardown(() => emulator.close());
  const baseURL = `${emulator.url}/v1`;

  // The undisturbed run, for comparison.
  const clean = await runChild([baseURL, input, join(dir, 'clean.jsonl'), join(dir, 'clean-state')]);
  t.equal(clean.code, 0, clean.stderr);
  const expected = await readResults(join(dir, 'clean.jsonl'));
  t.equal(expected.length, REQUESTS);
  t.same(
    expected.map((r) => r.custom_id),
    Array.from({ length: REQUESTS }, (_, i) => `q${i + 1}`),
    'results in input order',
  );
  t.ok(expected.some((r) => r.status === 'rejected') && expected.some((r) => r.status === 'succeeded'));

  for (const killAt of KILL_POINTS) {
    await t.test(`killed at ${killAt}`, async (t) => {
      const state = join(dir, `state-${killAt.replace(':', '-')}`);
      const out = join(dir, `out-${killAt.replace(':', '-')}.jsonl`);
      const killed = await runChild([baseURL, input, out, state, killAt]);
      t.equal(killed.signal, 'SIGKILL', `the child died at ${killAt}: ${killed.stderr}`);
      const resumed = await runChild([baseURL, input, out, state]);
      t.equal(resumed.code, 0, resumed.stderr);
      const summary = JSON.parse(resumed.stdout) as { runId: string; resumed: boolean; batches: Array<{ index: number; batchId: string; adopted: boolean }> };
      t.equal(summary.resumed, true);
      if (killAt.startsWith('created')) t.ok(summary.batches.some((b) => b.adopted), 'the batch whose create answer was lost is adopted by its tags, not made again');
      const results = await readResults(out);
      t.same(
        results.map((r) => [r.custom_id, r.line, r.status]),
        expected.map((r) => [r.custom_id, r.line, r.status]),
        'the same results, in input order, none lost or doubled',
      );
      // The API's own list: one batch per unit of the run, never two.
      const perUnit = new Map<string, number>();
      for (const record of emulator.batches.list({ limit: 100 }).data) {
        if (record.metadata?.batchline_run !== summary.runId) continue;
        const unit = record.metadata.batchline_shard;
        perUnit.set(unit, (perUnit.get(unit) ?? 0) + 1);
      }
      t.equal(perUnit.size, summary.batches.length, 'every unit has its batch');
      t.same((await readdir(state)).filter((name) => name.startsWith('batchline-join-')), [], 'no join temp dir left behind');
      t.same((await readdir(dir)).filter((name) => name.includes('.partial-')), [], 'no half-written output left behind');
      t.same([...perUnit.values()].filter((count) => count > 1), [], 'no unit has two batches');
      // Shard names are unique per ingest: a name stored twice is an upload sent again and left behind.
      const names = emulator.files.list().filter((file) => file.purpose === 'batch').map((file) => file.filename);
      t.equal(new Set(names).size, names.length, 'no shard stored twice');
    });
  }
});

t.test('cancelling a stopped run reaches the batch whose create answer was lost; the resumed run makes no new batch', async (t) => {
  const dir = await tempDir(t, 'batchline-resume-cancel-');
  const input = join(dir, 'input.jsonl');
  await writeFile(input, inputText());
  const emulator = await startEmulator({ batchDurationMs: 600_000, cancelDurationMs: 20, seed: 11 });
  t.teardown(() => emulator.close());
  const baseURL = `${emulator.url}/v1`;
  const client = new ApiClient({ baseURL, apiKey: 'test-key', retry: { baseDelayMs: 5 } });
  const state = join(dir, 'state');
  const out = join(dir, 'out.jsonl');
  // Submits one at a time: the second create's answer is lost, no third is sent.
  const killed = await runChild([baseURL, input, out, state, 'created:2', JSON.stringify({ concurrency: 1 })]);
  t.equal(killed.signal, 'SIGKILL', killed.stderr);
  const made = emulator.batches.list({ limit: 100 }).data.map((b) => b.id);
  t.ok(made.length >= 2, `the lost create made its batch (${made.length} batches)`);
  const recorded = (await runStatus(state)).batches.flatMap((b) => (b.batchId ? [b.batchId] : []));
  t.ok(made.some((id) => !recorded.includes(id)), 'one batch is on the API but not in the journal');

  const result = await cancelRun(state, { client });
  t.equal(result.handedToLiveRun, false);
  t.same([...result.cancelled].sort(), [...made].sort(), 'every batch of the run is cancelled, the unrecorded one too');

  const resumed = await runChild([baseURL, input, out, state]);
  t.equal(resumed.code, 0, resumed.stderr);
  const summary = JSON.parse(resumed.stdout) as { cancelled: boolean; counts: Record<string, number>; followUps: number };
  t.equal(summary.cancelled, true);
  t.equal(summary.followUps, 0);
  t.equal(summary.counts.cancelled + summary.counts.missing, REQUESTS, 'nothing answered, every request accounted for');
  t.same(emulator.batches.list({ limit: 100 }).data.map((b) => b.id).sort(), [...made].sort(), 'the resumed run adopted the lost batch and made none');
  const results = await readResults(out);
  t.equal(results.length, REQUESTS);
});
