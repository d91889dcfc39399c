// `batchline run`, `status --state-dir` and `cancel --state-dir`, in-process and as a process killed with -9.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import t from 'tap';
import { cli, CLI_ENTRY, jsonLines, requestLine } from './helpers/cli.ts';
import { tempDir } from './helpers/temp.ts';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `c-${i + 1}`);

async function inputFile(dir: string, n: number): Promise<string> {
  const path = join(dir, 'requests.jsonl');
  await writeFile(path, ids(n).map((id, i) => requestLine(id, { model: i % 2 ? 'gpt-4o-mini' : 'gpt-4.1-mini' }) + '\n').join(''));
  return path;
}

t.test('batchline run --local -o: one result per request in input order, the summary on stderr', async (t) => {
  const dir = await tempDir(t, 'batchline-cli-run-');
  const input = await inputFile(dir, 120);
  const out = join(dir, 'results.jsonl');
  const state = join(dir, 'state');
  const run = await cli(['run', input, '--local', '-o', out, '--state-dir', state, '--max-requests', '25']);
  t.equal(run.code, 0, run.stderr);
  const results = jsonLines(await readFile(out, 'utf8'));
  t.same(results.map((r) => r.custom_id), ids(120));
  t.ok(results.every((r) => r.status === 'succeeded'));
  t.match(run.stderr, /batchline run: state in /);
  t.match(run.stderr, /resumes with: batchline run .* --state-dir/);
  t.match(run.stderr, /120 requests: 120 succeeded/);
  t.match(run.stderr, new RegExp(`results in input order: ${out.replace(/[/.]/g, '\\$&')}`));

  const status = await cli(['status', '--state-dir', state]);
  t.equal(status.code, 0, status.stderr);
  const [report] = jsonLines(status.stdout);
  t.equal((report.joined as { requests: number }).requests, 120);
  t.match(status.stderr, /finished/);

  const again = await cli(['run', input, '--local', '-o', out, '--state-dir', state, '--max-requests', '25', '--json']);
  t.equal(again.code, 0, again.stderr);
  const [summary] = jsonLines(again.stdout);
  t.equal(summary.resumed, true, 'the same command again resumes (here: rejoins) the run');
  t.equal((summary.counts as { succeeded: number }).succeeded, 120);

  const changed = await cli(['run', input, '--local', '-o', out, '--state-dir', state, '--max-requests', '30']);
  t.equal(changed.code, 1);
  t.match(changed.stderr, /RUN_OPTIONS_CHANGED/);

  const cancel = await cli(['cancel', '--state-dir', state]);
  t.equal(cancel.code, 0, cancel.stderr);
  t.same(jsonLines(cancel.stdout)[0].cancelled, []);
});

t.test('batchline run without -o writes the results to stdout; --dry-run plans without uploading', async (t) => {
  const dir = await tempDir(t, 'batchline-cli-run-');
  const input = await inputFile(dir, 30);
  const run = await cli(['run', input, '--local', '--state-dir', join(dir, 'state')]);
  t.equal(run.code, 0, run.stderr);
  t.same(jsonLines(run.stdout).map((r) => r.custom_id), ids(30));

  const dry = await cli(['run', input, '--dry-run', '--max-requests', '10']);
  t.equal(dry.code, 0, dry.stderr);
  t.match(dry.stderr, /30 requests, [\d,]+ bytes, would make 4 batches/);
  t.match(dry.stderr, /gpt-4o-mini: 15 requests in 2 batches/);
  const json = await cli(['run', input, '--dry-run', '--json']);
  t.equal(jsonLines(json.stdout)[0].requests, 30);
});

t.test('batchline run refuses bad flags and a missing key with coded errors', async (t) => {
  const dir = await tempDir(t, 'batchline-cli-run-');
  const input = await inputFile(dir, 3);
  for (const [args, code] of [
    [['run', input, '--local', '--json'], /INVALID_OPTION: --json/],
    [['run', input, '--endpoint', '/v1/nope', '--local'], /INVALID_OPTION: --endpoint/],
    [['run', input, '--max-attempts', '0', '--local'], /INVALID_OPTION: --max-attempts/],
    [['run', join(dir, 'missing.jsonl'), '--local'], /INPUT_UNREADABLE/],
    [['run', input], /MISSING_API_KEY/],
    [['status', '--state-dir', join(dir, 'nope')], /NOT_A_DIRECTORY|RUN_NOT_FOUND/],
    [['status', 'batch_1', '--state-dir', dir], /INVALID_OPTION/],
  ] as Array<[string[], RegExp]>) {
    const run = await cli(args);
    t.equal(run.code, 1, args.join(' '));
    t.match(run.stderr, code, args.join(' '));
  }
});

t.test('batchline run --validate-first refuses a bad last line before anything is sent', async (t) => {
  const dir = await tempDir(t, 'batchline-cli-run-');
  const input = await inputFile(dir, 30);
  await writeFile(input, (await readFile(input, 'utf8')) + '{"custom_id":"bad","method":"POST"}\n');
  const state = join(dir, 'state');
  const run = await cli(['run', input, '--local', '--validate-first', '--max-requests', '5', '--state-dir', state, '-o', join(dir, 'out.jsonl')]);
  t.equal(run.code, 1, run.stderr);
  t.match(run.stderr, /line 31/);
  t.match(run.stderr, /checking every request before the first upload/);
  const status = await cli(['status', '--state-dir', state]);
  t.same(jsonLines(status.stdout)[0].batches, [], 'no batch, no shard recorded');
});

t.test('batchline run killed with -9 mid-run resumes with the same command to the same results', async (t) => {
  const dir = await tempDir(t, 'batchline-cli-run-');
  const input = await inputFile(dir, 400);
  const out = join(dir, 'results.jsonl');
  const args = [CLI_ENTRY, 'run', input, '--local', '-o', out, '--max-requests', '40'];
  // Killed once the journal records the first batches: the emulator (in the same process) dies with it, its state on disk.
  const killed = await new Promise<{ signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const watch = setInterval(async () => {
      const runs = await readdir(join(dir, '.batchline', 'runs')).catch(() => [] as string[]);
      const journal = runs.length === 1 ? await readFile(join(dir, '.batchline', 'runs', runs[0], 'journal.jsonl'), 'utf8').catch(() => '') : '';
      if ((journal.match(/"kind":"submitted"/g) ?? []).length >= 2) {
        clearInterval(watch);
        child.kill('SIGKILL');
      }
    }, 10);
    child.on('close', (_code, signal) => {
      clearInterval(watch);
      resolve({ signal, stderr });
    });
  });
  t.equal(killed.signal, 'SIGKILL', killed.stderr);
  const resumed = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve({ code, stderr }));
  });
  t.equal(resumed.code, 0, resumed.stderr);
  t.match(resumed.stderr, /resuming the run in .*\.batchline\/runs\/requests\.jsonl-/);
  const results = jsonLines(await readFile(out, 'utf8'));
  t.same(results.map((r) => r.custom_id), ids(400));
  t.ok(results.every((r) => r.status === 'succeeded'));
});

t.test('Ctrl-C stops batchline run with 130 and leaves it resumable; the same command finishes it', async (t) => {
  const dir = await tempDir(t, 'batchline-cli-run-');
  const input = await inputFile(dir, 200);
  const out = join(dir, 'results.jsonl');
  const state = join(dir, 'state');
  const args = [CLI_ENTRY, 'run', input, '--local', '-o', out, '--state-dir', state, '--max-requests', '50'];
  const stopped = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const watch = setInterval(async () => {
      const journal = await readFile(join(state, 'journal.jsonl'), 'utf8').catch(() => '');
      if (journal.includes('"kind":"submitted"')) {
        clearInterval(watch);
        child.kill('SIGINT');
      }
    }, 10);
    child.on('close', (code) => {
      clearInterval(watch);
      resolve({ code, stderr });
    });
  });
  t.equal(stopped.code, 130, stopped.stderr);
  t.match(stopped.stderr, /stopped; the run is resumable: batchline run /);
  await t.rejects(readFile(join(state, 'lock')), 'the lock is released');
  const finished = await cli(['run', input, '--local', '-o', out, '--state-dir', state, '--max-requests', '50']);
  t.equal(finished.code, 0, finished.stderr);
  t.match(finished.stderr, /resuming the run in/);
  t.same(jsonLines(await readFile(out, 'utf8')).map((r) => r.custom_id), ids(200));
});
