// A reader that goes away (`batchline … | head -1`): the command stops quietly, with its clean-up.
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { spawnCli, waitFor } from './helpers/cli.ts';
import { jsonl, request, resultFor } from './helpers/join-fixtures.ts';

const embedding = (i: number) =>
  JSON.stringify({ custom_id: `r${i}`, method: 'POST', url: '/v1/embeddings', body: { model: 'm', input: `x${i}` } }) + '\n';

async function scratchDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'batchline-stdout-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Waits for the first stdout line, then closes the reading end, as `head -1` does. */
async function closeAfterFirstLine(child: ReturnType<typeof spawnCli>): Promise<void> {
  await waitFor(() => child.out().includes('\n'));
  child.stdout.destroy();
}

t.test('shard: a closed stdout ends the run with 141, no message, and only finished shards left', async (t) => {
  const dir = await scratchDir(t);
  const child = spawnCli(['shard', '-', '--out-dir', dir, '--max-requests', '2']);
  // Five requests: two full shards (two descriptors) and a third shard open with one request.
  for (let i = 1; i <= 5; i++) child.stdin.write(embedding(i));
  await closeAfterFirstLine(child);
  // The third shard fills: its descriptor meets the closed pipe while the fourth shard is open.
  for (let i = 6; i <= 7; i++) child.stdin.write(embedding(i));
  const [code] = await once(child, 'exit');
  child.stdin.destroy();
  t.equal(code, 141, '128 + SIGPIPE');
  t.equal(child.err(), '', 'quiet: no EPIPE, no stack trace, no summary');
  const files = (await readdir(dir)).sort();
  t.ok(files.length >= 2 && files.length <= 3, `finished shards stay: ${files.join(' ')}`);
  for (const [i, file] of files.entries()) {
    t.equal(file, `shard-0000${i}.jsonl`);
    t.equal(await readFile(join(dir, file), 'utf8'), embedding(2 * i + 1) + embedding(2 * i + 2), `${file} is complete`);
  }
});

t.test('join: a closed stdout stops the join with 141, quietly, and removes its temp directory', async (t) => {
  const dir = await scratchDir(t);
  const ids = Array.from({ length: 20_000 }, (_, i) => `r${i}`);
  await writeFile(join(dir, 'in.jsonl'), jsonl(ids.map((id) => request(id))));
  await writeFile(join(dir, 'out.jsonl'), jsonl(ids.map((id) => resultFor(id, 'succeeded'))));
  const temp = join(dir, 'temp');
  await mkdir(temp);
  const child = spawnCli(['join', join(dir, 'in.jsonl'), join(dir, 'out.jsonl'), '--temp-dir', temp]);
  await closeAfterFirstLine(child);
  const [code] = await once(child, 'exit');
  t.equal(code, 141);
  t.equal(child.err(), '');
  t.same(await readdir(temp), [], 'the spill directory is gone');
});

t.test('validate --json: a closed stdout stops the check quietly', async (t) => {
  const child = spawnCli(['validate', '-', '--json', '--on-invalid', 'skip']);
  // Bad lines, each reported on stdout, far more than a pipe holds.
  child.stdin.write('nope\n'.repeat(2000));
  await closeAfterFirstLine(child);
  // More lines until the child has gone (a write after that fails with EPIPE, which ends the feeding).
  const feeding = (async () => {
    for (let i = 0; i < 200 && child.exitCode === null; i++) {
      if (!child.stdin.write('nope\n'.repeat(1000))) await Promise.race([once(child.stdin, 'drain'), once(child, 'exit')]);
    }
  })().catch(() => undefined);
  const [code] = await once(child, 'exit');
  child.stdin.destroy();
  await feeding;
  t.equal(code, 141);
  t.equal(child.err(), '');
});
