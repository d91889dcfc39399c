import t from 'tap';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { PassThrough, Readable } from 'node:stream';
import { main as runCli } from '../src/cli/main.ts';
import type { ShardDescriptor } from '../src/types.ts';

function io(stdinText = '') {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += c));
  stderr.on('data', (c) => (err += c));
  return {
    io: { stdin: Readable.from([Buffer.from(stdinText)]), stdout, stderr, env: {} },
    out: () => out,
    err: () => err,
  };
}

const line = (id: string, model = 'gpt-4o-mini') =>
  JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: 'hé' }] } });

t.test('validate passes a good file with exit 0 and a summary on stderr', async (t) => {
  const dir = t.testdir({ 'in.jsonl': [line('a'), line('b'), '', line('c', 'other')].join('\n') + '\n' });
  const run = io();
  t.equal(await runCli(['validate', `${dir}/in.jsonl`], run.io), 0);
  t.equal(run.out(), '');
  t.match(run.err(), /^batchline validate: 4 lines, 3 requests, 2 shards, 0 skipped, \d+ bytes, [\d.]+ seconds\n$/);
});

t.test('validate prints every bad line with its code and line, and exits 1', async (t) => {
  const input = [line('a'), 'nope', line('a'), line('b').replace('POST', 'GET'), line('c')].join('\n');
  const run = io(input);
  t.equal(await runCli(['validate', '-'], run.io), 1);
  const errors = run.err().trim().split('\n');
  t.match(errors[0], /^batchline: INVALID_JSON: .*\(line=2\)$/);
  t.match(errors[1], /^batchline: DUPLICATE_CUSTOM_ID: .*\(line=3 customId="a"\)$/);
  t.match(errors[2], /^batchline: INVALID_METHOD: .*\(line=4 customId="b"\)$/);
  t.match(errors[3], /^batchline validate: 5 lines, 2 requests, 1 shards, 3 skipped/);
  const fast = io(input);
  t.equal(await runCli(['validate', '-', '--fail-fast'], fast.io), 1);
  t.match(fast.err(), /INVALID_JSON.*line=2/);
  t.notMatch(fast.err(), /DUPLICATE_CUSTOM_ID/, 'stops at the first');
  const pinned = io(line('a'));
  t.equal(await runCli(['validate', '-', '--endpoint', '/v1/embeddings'], pinned.io), 1);
  t.match(pinned.err(), /MIXED_ENDPOINTS/);
});

t.test('validate reports a request too large for a shard like any bad line, counts it, and goes on', async (t) => {
  const big = JSON.stringify({ custom_id: 'big', method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(500) }] } });
  const input = [line('a'), big, 'nope', line('b'), big.replace('"big"', '"big2"')].join('\n');
  const run = io(input);
  t.equal(await runCli(['validate', '-', '--max-bytes', '300'], run.io), 1);
  const errors = run.err().trim().split('\n');
  t.match(errors[0], /^batchline: REQUEST_TOO_LARGE: .*\(line=2 customId="big"\)$/);
  t.match(errors[1], /^batchline: INVALID_JSON: .*\(line=3\)$/);
  t.match(errors[2], /^batchline: REQUEST_TOO_LARGE: .*\(line=5 customId="big2"\)$/);
  t.match(errors[3], /^batchline validate: 5 lines, 2 requests, 1 shards, 3 skipped/);
  const fast = io(input);
  t.equal(await runCli(['validate', '-', '--max-bytes', '300', '--fail-fast'], fast.io), 1);
  t.match(fast.err(), /REQUEST_TOO_LARGE.*line=2/);
  t.notMatch(fast.err(), /INVALID_JSON/, '--fail-fast stops at the first');
});

t.test('validate counts the shards shard would write with its default of 16 open shards', async (t) => {
  // 17 models in turn: past 16 open shards each new one finishes the least recently used.
  const input = Array.from({ length: 34 }, (_, i) => line(`r${i}`, `model-${i % 17}`)).join('\n');
  const checked = io(input);
  t.equal(await runCli(['validate', '-'], checked.io), 0);
  const dir = t.testdir();
  const sharded = io(input);
  t.equal(await runCli(['shard', '-', '--out-dir', `${dir}/out`], sharded.io), 0);
  const shards = sharded.out().trim().split('\n').length;
  t.ok(shards > 17, `${shards} shards`);
  t.match(checked.err(), new RegExp(`34 requests, ${shards} shards, 0 skipped`));
  // With room for every route, both agree on one shard per model.
  const roomy = io(input);
  t.equal(await runCli(['validate', '-', '--max-open-shards', '17'], roomy.io), 0);
  const roomyShards = io(input);
  t.equal(await runCli(['shard', '-', '--out-dir', `${dir}/out17`, '--max-open-shards', '17'], roomyShards.io), 0);
  t.equal(roomyShards.out().trim().split('\n').length, 17);
  t.match(roomy.err(), /34 requests, 17 shards, 0 skipped/);
});

t.test('shard writes the files, prints one descriptor per shard and a summary', async (t) => {
  const lines = Array.from({ length: 7 }, (_, i) => line(`r${i}`, i < 5 ? 'a' : 'b'));
  const dir = t.testdir({ 'in.jsonl': lines.join('\r\n') });
  const run = io();
  t.equal(await runCli(['shard', `${dir}/in.jsonl`, '--out-dir', `${dir}/out`, '--max-requests', '2'], run.io), 0);
  const descriptors = run
    .out()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ShardDescriptor);
  t.same(descriptors.map((d) => [d.index, d.model, d.requests]).sort(), [
    [0, 'a', 2],
    [1, 'a', 2],
    [2, 'a', 1],
    [3, 'b', 2],
  ]);
  t.same((await readdir(`${dir}/out`)).length, 4);
  t.equal(await readFile(descriptors.find((d) => d.index === 3)!.path, 'utf8'), `${lines[5]}\n${lines[6]}\n`);
  t.match(run.err(), /^batchline shard: 7 lines, 7 requests, 4 shards, 0 skipped, \d+ bytes/);
});

t.test('shard stops at a bad line with its code, removes unfinished files, or skips it on request', async (t) => {
  const dir = t.testdir();
  await writeFile(`${dir}/in.jsonl`, [line('a'), line('b'), '{"custom_id":"c"}', line('d')].join('\n'));
  const run = io();
  t.equal(await runCli(['shard', `${dir}/in.jsonl`, '--out-dir', `${dir}/out`], run.io), 1);
  t.match(run.err(), /batchline: MISSING_CUSTOM_ID|batchline: INVALID_METHOD/);
  t.match(run.err(), /line=3/);
  t.same(await readdir(`${dir}/out`), [], 'no partial shard left behind');
  const skip = io();
  t.equal(await runCli(['shard', `${dir}/in.jsonl`, '--out-dir', `${dir}/out2`, '--skip-invalid'], skip.io), 0);
  t.match(skip.err(), /INVALID_METHOD.*line=3/);
  t.match(skip.err(), /4 lines, 3 requests, 1 shards, 1 skipped/);
  t.match(JSON.parse(skip.out()), { requests: 3, firstLine: 1, lastLine: 4 });
});

t.test('shard refuses to write into a directory that holds shards of an earlier run', async (t) => {
  const dir = t.testdir({ 'in.jsonl': [line('a'), line('b')].join('\n') });
  t.equal(await runCli(['shard', `${dir}/in.jsonl`, '--out-dir', `${dir}/out`], io().io), 0);
  const before = await readFile(`${dir}/out/shard-00000.jsonl`, 'utf8');
  await writeFile(`${dir}/in2.jsonl`, line('z'));
  const again = io();
  t.equal(await runCli(['shard', `${dir}/in2.jsonl`, '--out-dir', `${dir}/out`], again.io), 1);
  t.match(again.err(), /batchline: SHARD_EXISTS: .*out\/shard-00000\.jsonl already exists.*\(shard=0\)/);
  t.equal(await readFile(`${dir}/out/shard-00000.jsonl`, 'utf8'), before);
  t.same(await readdir(`${dir}/out`), ['shard-00000.jsonl']);
});

t.test('the commands name what is wrong with their arguments', async (t) => {
  const missingDir = io();
  t.equal(await runCli(['shard', '-'], missingDir.io), 1);
  t.match(missingDir.err(), /INVALID_OPTION: --out-dir is required/);
  const badNumber = io();
  t.equal(await runCli(['shard', '-', '--out-dir', 'x', '--max-bytes', 'lots'], badNumber.io), 1);
  t.match(badNumber.err(), /INVALID_OPTION: --max-bytes/);
  const missingFile = io();
  t.equal(await runCli(['validate', '/nonexistent/in.jsonl'], missingFile.io), 1);
  t.match(missingFile.err(), /INPUT_UNREADABLE.*ENOENT/);
  const help = io();
  t.equal(await runCli(['shard', '--help'], help.io), 0);
  t.match(help.out(), /--out-dir DIR/);
});
