// The README's examples run as a user would run them: `import … from 'batchline'`
// resolves to the built package (npm ci builds it; npm test rebuilds it first).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { writeDemoInput } from '../src/cli/commands/demo.ts';

const run = promisify(execFile);
const example = (name: string) => join(import.meta.dirname, '..', 'examples', name);

async function node(script: string, args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [example(script), ...args], { timeout: 60_000 });
  return stdout;
}

t.test('examples', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'batchline-examples-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));

  t.test('shard-a-file.ts shards a JSONL file by endpoint and model', async (t) => {
    const input = join(dir, 'requests.jsonl');
    await writeDemoInput(input, 90);
    const out = await node('shard-a-file.ts', [input, join(dir, 'shards-a')]);
    const lines = out.trim().split('\n');
    t.equal(lines.length, 2, 'two models, two shards');
    t.match(out, /shard-00000\.jsonl: 45 requests, \d+ bytes, gpt-4\.1-mini/);
    t.equal((await readdir(join(dir, 'shards-a'))).length, 2);
  });

  t.test('run-batch.ts runs the whole trip in one call, and again from its state', async (t) => {
    const input = join(dir, 'run-input.jsonl');
    await writeDemoInput(input, 300);
    const output = join(dir, 'run-results.jsonl');
    const state = join(dir, 'run-state');
    const out = await node('run-batch.ts', [input, output, state]);
    t.match(out, /^300 results in input order/);
    t.match(out, /"succeeded":300/);
    t.match(out, /\d+ batches, [1-9]\d* follow-ups/, 'the passing 500s were healed in follow-up batches');
    const results = (await readFile(output, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    t.same(results.map((r) => r.custom_id), Array.from({ length: 300 }, (_, i) => `row-${i + 1}`));
    const again = await node('run-batch.ts', [input, output, state]);
    t.match(again, /^300 results in input order/, 'a finished run rejoins from its state');
  });

  t.test('database-cursor.ts shards rows from an async generator', async (t) => {
    const out = await node('database-cursor.ts', [join(dir, 'shards-b')]);
    t.same(out.trim().split('\n'), [
      `${join(dir, 'shards-b', 'shard-00000.jsonl')}: rows 1…400`,
      `${join(dir, 'shards-b', 'shard-00001.jsonl')}: rows 401…800`,
      `${join(dir, 'shards-b', 'shard-00002.jsonl')}: rows 801…1000`,
    ]);
    const first = JSON.parse((await readFile(join(dir, 'shards-b', 'shard-00000.jsonl'), 'utf8')).split('\n')[0]);
    t.same(first, {
      custom_id: 'ticket-1',
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Classify: Printer 1 is out of toner' }] },
    });
  });

  t.test('emulator-with-openai-sdk.ts runs the notebook flow with the official SDK', async (t) => {
    const out = await node('emulator-with-openai-sdk.ts', []);
    t.match(out, /^batch_\w+ completed \{ total: 3, completed: 3, failed: 0 \}/);
    for (const id of ['request-1', 'request-2', 'request-3']) t.match(out, new RegExp(`\\n${id} 200 `));
  });

  t.test('whole-trip.ts takes a file through every stage to joined results, under injected faults', async (t) => {
    const input = join(dir, 'trip.jsonl');
    await writeDemoInput(input, 450);
    const joined = join(dir, 'trip-joined.jsonl');
    const out = await node('whole-trip.ts', [input, join(dir, 'trip-work'), joined]);
    t.match(out, /^450 results in input order/);
    const wanted = (await readFile(input, 'utf8')).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l).custom_id);
    const results = (await readFile(joined, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    t.same(results.map((r) => r.custom_id), wanted, 'one result per request, in input order');
    t.equal(results.filter((r) => r.status === 'missing').length, 0);
  });

  t.test('join-results.ts writes joined JSONL and feeds a callback', async (t) => {
    const input = join(dir, 'join-input.jsonl');
    const lines = ['a', 'b', 'c'].map((id) =>
      JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/embeddings', body: { model: 'm', input: id } }),
    );
    await writeFileLines(input, lines);
    const output = join(dir, 'out.jsonl');
    const errors = join(dir, 'err.jsonl');
    await writeFileLines(output, [
      JSON.stringify({ id: 'r2', custom_id: 'c', response: { status_code: 200, request_id: 'q', body: { ok: 3 } }, error: null }),
      JSON.stringify({ id: 'r1', custom_id: 'a', response: { status_code: 200, request_id: 'q', body: { ok: 1 } }, error: null }),
    ]);
    await writeFileLines(errors, [
      JSON.stringify({ id: 'r3', custom_id: 'b', response: { status_code: 400, request_id: 'q', body: { error: {} } }, error: null }),
    ]);
    const joined = join(dir, 'joined.jsonl');
    const out = await node('join-results.ts', [input, joined, output, errors]);
    t.match(out, /joined 3 requests: \{ succeeded: 2, rejected: 1 \}/);
    const results = (await readFile(joined, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    t.same(results.map((r) => [r.custom_id, r.status]), [['a', 'succeeded'], ['b', 'rejected'], ['c', 'succeeded']]);
  });
});

async function writeFileLines(path: string, lines: string[]): Promise<void> {
  await writeFile(path, lines.join('\n') + '\n');
}
