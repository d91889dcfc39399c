// The transport commands against an emulator: upload, submit, status, wait, cancel, list, download.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import t, { type Test } from 'tap';
import { main } from '../src/cli/main.ts';
import { startEmulator, type EmulatorOptions } from '../src/emulator/index.ts';
import { jsonLines, requestLine, type CliRun } from './helpers/cli.ts';
import { tempDir } from './helpers/temp.ts';

const KEY = 'sk-cli-test-secret';

async function setUp(t: Test, options: EmulatorOptions = {}) {
  const emulator = await startEmulator({ apiKey: KEY, batchDurationMs: 200, ...options });
  t.teardown(() => emulator.close());
  const dir = await tempDir(t, 'batchline-cli-transport-');
  const base = ['--base-url', `${emulator.url}/v1`];
  /** `batchline <args>` in-process, with the key in its environment only. */
  async function run(args: string[], env: NodeJS.ProcessEnv = { OPENAI_API_KEY: KEY }): Promise<CliRun> {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (chunk) => (out += chunk));
    stderr.on('data', (chunk) => (err += chunk));
    const code = await main([...args, ...base], { stdin: Readable.from([]), stdout, stderr, env });
    return { code, stdout: out, stderr: err };
  }
  async function inputFile(name: string, ids: string[], model?: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, ids.map((id) => requestLine(id, { model }) + '\n').join(''));
    return path;
  }
  return { emulator, dir, run, inputFile };
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

t.test('upload → submit → wait → download: every line comes back once', async (t) => {
  const { run, inputFile, dir } = await setUp(t);
  const path = await inputFile('a.jsonl', ids('a', 25));
  const uploaded = await run(['upload', path]);
  t.equal(uploaded.code, 0, uploaded.stderr);
  const fileId = uploaded.stdout.trim();
  t.match(fileId, /^file-/);
  const submitted = await run(['submit', fileId, '--metadata', 'team=search', '--metadata', 'note=a=b']);
  t.equal(submitted.code, 0, submitted.stderr);
  const batchId = submitted.stdout.trim();
  t.match(batchId, /^batch_/);
  const waited = await run(['wait', batchId, '--poll-ms', '20', '--max-poll-ms', '50']);
  t.equal(waited.code, 0, waited.stderr);
  const [batch] = jsonLines(waited.stdout);
  t.match(batch, { id: batchId, status: 'completed', metadata: { team: 'search', note: 'a=b' }, request_counts: { total: 25 } });
  t.match(waited.stderr, new RegExp(`batchline wait: ${batchId} completed: 25/25 requests done`));
  const status = await run(['status', batchId]);
  t.match(jsonLines(status.stdout)[0], { id: batchId, status: 'completed' });
  const downloaded = await run(['download', batchId, '--out-dir', join(dir, 'out')]);
  t.equal(downloaded.code, 0, downloaded.stderr);
  const paths = downloaded.stdout.trim().split('\n');
  t.same(paths, [join(dir, 'out', `${batchId}_output.jsonl`)]);
  const lines = jsonLines(await readFile(paths[0], 'utf8'));
  t.same(lines.map((l) => l.custom_id).sort(), ids('a', 25).sort());
  const json = await run(['download', batchId, '--out-dir', join(dir, 'out2'), '--json']);
  t.match(jsonLines(json.stdout)[0], { batch: batchId, output: { path: join(dir, 'out2', `${batchId}_output.jsonl`) }, error: null });
});

t.test('upload keeps argument order with several files at once, and --json describes each', async (t) => {
  const { run, inputFile, emulator } = await setUp(t);
  const paths = [await inputFile('big.jsonl', ids('b', 300)), await inputFile('small.jsonl', ids('s', 1)), await inputFile('mid.jsonl', ids('m', 40))];
  const result = await run(['upload', ...paths, '--json', '--concurrency', '3', '--multipart-threshold', '8192', '--part-size', '4096']);
  t.equal(result.code, 0, result.stderr);
  const files = jsonLines(result.stdout);
  t.same(files.map((f) => f.path), paths);
  for (const file of files) {
    const stored = emulator.files.get(file.fileId as string);
    t.equal(stored?.bytes, file.bytes, `${file.path}: the stored file has the bytes sent`);
  }
});

t.test('wait on a batch that fails prints it, then exits 1 with its code', async (t) => {
  const { run, inputFile } = await setUp(t, { tokenLimit: 1 });
  const fileId = (await run(['upload', await inputFile('t.jsonl', ids('t', 5))])).stdout.trim();
  const batchId = (await run(['submit', fileId])).stdout.trim();
  const waited = await run(['wait', batchId, '--poll-ms', '20']);
  t.equal(waited.code, 1);
  t.match(jsonLines(waited.stdout)[0], { id: batchId, status: 'failed' });
  t.match(waited.stderr, /^batchline: TOKEN_LIMIT_EXCEEDED: /m);
});

t.test('cancel, then list with a metadata filter', async (t) => {
  const { run, inputFile } = await setUp(t, { batchDurationMs: 60_000 });
  const fileId = (await run(['upload', await inputFile('c.jsonl', ids('c', 3))])).stdout.trim();
  const first = (await run(['submit', fileId, '--metadata', 'run=one'])).stdout.trim();
  const second = (await run(['submit', fileId, '--metadata', 'run=two'])).stdout.trim();
  const cancelled = await run(['cancel', first]);
  t.equal(cancelled.code, 0, cancelled.stderr);
  t.match(jsonLines(cancelled.stdout)[0], { id: first, status: /^cancell(ing|ed)$/ });
  t.same(jsonLines((await run(['list'])).stdout).map((b) => b.id), [second, first], 'newest first');
  t.same(jsonLines((await run(['list', '--metadata', 'run=one'])).stdout).map((b) => b.id), [first]);
  t.same(jsonLines((await run(['list', '--limit', '1'])).stdout).map((b) => b.id), [second]);
  t.same(jsonLines((await run(['list', '--after', second])).stdout).map((b) => b.id), [first]);
});

t.test('bad keys, flags and arguments are one coded line each, and the key is never printed', async (t) => {
  const { run, inputFile } = await setUp(t);
  const path = await inputFile('k.jsonl', ids('k', 2));
  const wrongKey = await run(['upload', path], { OPENAI_API_KEY: 'sk-wrong-key-do-not-print' });
  t.equal(wrongKey.code, 1);
  t.match(wrongKey.stderr, /^batchline: API_UNAUTHORIZED: .*status=401/);
  t.notMatch(wrongKey.stderr, /sk-wrong-key-do-not-print/);
  const noKey = await run(['status', 'batch_x'], {});
  t.match(noKey.stderr, /^batchline: MISSING_API_KEY: /);
  t.match((await run(['submit', 'file-x', '--metadata', 'novalue'])).stderr, /^batchline: INVALID_OPTION: --metadata takes KEY=VALUE/);
  t.match((await run(['status'])).stderr, /^batchline: INVALID_OPTION: status takes one batch id/);
  t.match((await run(['list', '--bogus'])).stderr, /^batchline: INVALID_OPTION: Unknown option '--bogus'/);
  t.match((await run(['upload', join(path, 'nope.jsonl')])).stderr, /^batchline: INPUT_UNREADABLE: /);
  const notFound = await run(['status', 'batch_0123456789abcdef']);
  t.match(notFound.stderr, /^batchline: API_NOT_FOUND: /);
  t.equal(notFound.stderr.trim().split('\n').length, 1);
});

t.test('under one request in five failing, three files make three batches and every line comes back once', async (t) => {
  const { run: runOnce, inputFile, dir } = await setUp(t, { faultRate: 0.2, seed: 11 });
  let stderr = '';
  const run = async (args: string[]) => {
    const result = await runOnce(args);
    stderr += result.stderr;
    return result;
  };
  const files = [await inputFile('f0.jsonl', ids('f0', 30)), await inputFile('f1.jsonl', ids('f1', 30), 'gpt-4.1-mini'), await inputFile('f2.jsonl', ids('f2', 30))];
  const uploaded = await run(['upload', ...files]);
  t.equal(uploaded.code, 0, uploaded.stderr);
  const fileIds = uploaded.stdout.trim().split('\n');
  const batchIds: string[] = [];
  for (const fileId of fileIds) {
    const submitted = await run(['submit', fileId, '--run-id', 'cli-faults']);
    t.equal(submitted.code, 0, submitted.stderr);
    batchIds.push(submitted.stdout.trim());
  }
  const received: string[] = [];
  for (const batchId of batchIds) {
    t.equal((await run(['wait', batchId, '--poll-ms', '20'])).code, 0);
    const downloaded = await run(['download', batchId, '--out-dir', join(dir, 'results')]);
    t.equal(downloaded.code, 0, downloaded.stderr);
    for (const path of downloaded.stdout.trim().split('\n')) received.push(...jsonLines(await readFile(path, 'utf8')).map((l) => l.custom_id as string));
  }
  t.same(received.sort(), [...ids('f0', 30), ...ids('f1', 30), ...ids('f2', 30)].sort(), 'every line exactly once');
  const listed = jsonLines((await run(['list', '--metadata', 'batchline_run=cli-faults'])).stdout);
  t.equal(listed.length, 3, 'one batch per file, whatever was retried');
  t.match(stderr, /retrying in \d+ ms/, 'faults were met and retried');
});

t.test('list waits for a slow reader, and a closed stdout ends it quietly with 141', async (t) => {
  const { emulator, run, inputFile } = await setUp(t, { batchDurationMs: 60_000 });
  const fileId = (await run(['upload', await inputFile('l.jsonl', ids('l', 1))])).stdout.trim();
  for (let i = 0; i < 5; i++) await run(['submit', fileId]);
  const stdout = new PassThrough({ highWaterMark: 1 });
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (chunk) => (err += chunk));
  const pending = main(['list', '--base-url', `${emulator.url}/v1`], { stdin: Readable.from([]), stdout, stderr, env: { OPENAI_API_KEY: KEY } });
  // Nobody reads: the command waits after its first line instead of queueing every batch.
  await new Promise<void>((resolve) => {
    const check = () => (stdout.writableLength > 0 ? resolve() : setImmediate(check));
    check();
  });
  t.equal(jsonLines(stdout.read().toString()).length, 1, 'one line written, then it waits');
  stdout.destroy();
  t.equal(await pending, 141);
  t.equal(err, '', 'nothing printed');
});
