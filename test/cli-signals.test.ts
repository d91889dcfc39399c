// Ctrl-C on a running command: the stages stop and remove what they half-wrote.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

const cli = join(import.meta.dirname, '..', 'src', 'cli', 'entry.ts');
const request = (i: number) =>
  JSON.stringify({ custom_id: `r${i}`, method: 'POST', url: '/v1/embeddings', body: { model: 'm', input: `x${i}` } }) + '\n';

async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

t.test('SIGINT during `shard` stops it with ABORTED and leaves only finished shards', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'batchline-sigint-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [cli, 'shard', '-', '--out-dir', dir, '--max-requests', '2'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  // Five requests: two full shards, and a third open with one request when the signal comes.
  for (let i = 1; i <= 5; i++) child.stdin.write(request(i));
  await waitFor(async () => stdout.trim().split('\n').filter(Boolean).length >= 2);
  await waitFor(async () => (await readdir(dir)).length >= 3);
  child.kill('SIGINT');
  const [code] = await once(child, 'exit');
  t.equal(code, 130, '128 + SIGINT, as shells expect');
  t.match(stderr, /batchline: ABORTED: .*SIGINT/);
  const files = (await readdir(dir)).sort();
  t.same(files, ['shard-00000.jsonl', 'shard-00001.jsonl'], 'the unfinished third shard is gone');
  for (const file of files) t.equal((await readFile(join(dir, file), 'utf8')).split('\n').length, 3, `${file} is complete`);
  child.stdin.destroy();
});

t.test('main() called again and again in one process leaves no signal listeners behind', async (t) => {
  const { main } = await import('../src/cli/main.ts');
  const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
  // An unknown command: main() on the process's own streams, answering on stderr only.
  for (let i = 0; i < 20; i++) t.equal(await main(['no-such-command']), 1);
  t.same([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')], before);
});
