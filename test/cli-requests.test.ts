import t from 'tap';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import type { ShardDescriptor } from '../src/types.ts';
import { cli, requestLine as line } from './helpers/cli.ts';

t.test('validate passes a good file with exit 0 and a summary on stderr', async (t) => {
  const dir = t.testdir({ 'in.jsonl': [line('a'), line('b'), '', line('c', { model: 'other' })].join('\n') + '\n' });
  const run = await cli(['validate', `${dir}/in.jsonl`]);
  t.equal(run.code, 0);
  t.equal(run.stdout, '');
  const bytes = (await stat(`${dir}/in.jsonl`)).size;
  t.match(run.stderr, new RegExp(`^batchline validate: 4 lines, 3 requests, 2 shards, 0 skipped, ${bytes} bytes, [\\d.]+ seconds\\n$`));
});

t.test('validate stops at the first bad line by default, counting only what it read', async (t) => {
  const input = [line('a'), line('b'), 'nope', line('a'), line('c')].join('\n') + '\n';
  const run = await cli(['validate', '-'], input);
  t.equal(run.code, 1);
  const [error, summary, rest] = run.stderr.split('\n');
  t.match(error, /^batchline: INVALID_JSON: .*\(line=3\)$/);
  const through = Buffer.byteLength([line('a'), line('b'), 'nope'].join('\n') + '\n');
  t.match(summary, new RegExp(`^batchline validate: stopped at line 3: 3 lines, 2 requests, 1 shards, 0 skipped, ${through} bytes`));
  t.equal(rest, '', 'the error, then one summary');

  // The same from a file: the parser read it all, the summary counts the bytes up to line 3's end.
  const dir = t.testdir({ 'in.jsonl': input });
  const fromFile = await cli(['validate', `${dir}/in.jsonl`, '--on-invalid', 'error']);
  t.match(fromFile.stderr, new RegExp(`stopped at line 3: 3 lines, 2 requests, 1 shards, 0 skipped, ${through} bytes`));
});

t.test('validate --on-invalid skip reports every bad line with its code and line, and exits 1', async (t) => {
  const input = [line('a'), 'nope', line('a'), line('b').replace('POST', 'GET'), line('c')].join('\n');
  const run = await cli(['validate', '-', '--on-invalid', 'skip'], input);
  t.equal(run.code, 1);
  const lines = run.stderr.trim().split('\n');
  t.match(lines[0], /^batchline: INVALID_JSON: .*\(line=2\)$/);
  t.match(lines[1], /^batchline: DUPLICATE_CUSTOM_ID: .*\(line=3 customId="a"\)$/);
  t.match(lines[2], /^batchline: INVALID_METHOD: .*\(line=4 customId="b"\)$/);
  t.match(lines[3], new RegExp(`^batchline validate: 5 lines, 2 requests, 1 shards, 3 skipped, ${Buffer.byteLength(input)} bytes`));
  t.equal(lines.length, 4);
});

t.test('--endpoint on a file of another endpoint is one error naming the flag; skipping, one per line', async (t) => {
  const input = Array.from({ length: 300 }, (_, i) => line(`r${i}`)).join('\n');
  const pinned = await cli(['validate', '-', '--endpoint', '/v1/embeddings'], input);
  t.equal(pinned.code, 1);
  const errors = pinned.stderr.split('\n').filter((l) => l.startsWith('batchline: '));
  t.equal(errors.length, 1, 'one error, not 300');
  t.match(errors[0], /MIXED_ENDPOINTS: url \/v1\/chat\/completions on line 1 is not the endpoint the run was given, \/v1\/embeddings .*--endpoint/);
  const skipping = await cli(['validate', '-', '--endpoint', '/v1/embeddings', '--on-invalid', 'skip'], input);
  t.equal(skipping.stderr.split('\n').filter((l) => l.startsWith('batchline: MIXED_ENDPOINTS')).length, 300);
});

t.test('MIXED_ENDPOINTS names --route-by-endpoint, which lets both through', async (t) => {
  const input = [line('a'), line('b', { url: '/v1/embeddings' })].join('\n');
  const mixed = await cli(['validate', '-'], input);
  t.match(mixed.stderr, /MIXED_ENDPOINTS: url \/v1\/embeddings on line 2 differs from \/v1\/chat\/completions on line 1: .*--route-by-endpoint/);
  const routed = await cli(['validate', '-', '--route-by-endpoint'], input);
  t.equal(routed.code, 0);
  t.match(routed.stderr, /2 lines, 2 requests, 2 shards/);
});

t.test('validate reports a request too large for a shard like any bad line, counts it, and goes on when skipping', async (t) => {
  const big = JSON.stringify({ custom_id: 'big', method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(500) }] } });
  const input = [line('a'), big, 'nope', line('b'), big.replace('"big"', '"big2"')].join('\n');
  const run = await cli(['validate', '-', '--max-bytes', '300', '--on-invalid', 'skip'], input);
  t.equal(run.code, 1);
  const lines = run.stderr.trim().split('\n');
  t.match(lines[0], /^batchline: REQUEST_TOO_LARGE: .*\(line=2 customId="big"\)$/);
  t.match(lines[1], /^batchline: INVALID_JSON: .*\(line=3\)$/);
  t.match(lines[2], /^batchline: REQUEST_TOO_LARGE: .*\(line=5 customId="big2"\)$/);
  t.match(lines[3], /^batchline validate: 5 lines, 2 requests, 1 shards, 3 skipped/);
  const stop = await cli(['validate', '-', '--max-bytes', '300'], input);
  t.match(stop.stderr, /^batchline: REQUEST_TOO_LARGE: .*line=2.*\nbatchline validate: stopped at line 2: 2 lines, 1 requests/);
  t.notMatch(stop.stderr, /INVALID_JSON/, 'stops at the first');
});

t.test('validate counts embeddings shards by their inputs, 50,000 a batch, and reports a request over that', async (t) => {
  const embed = (id: string, inputs: number) =>
    JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/embeddings', body: { model: 'e', input: Array.from({ length: inputs }, () => 'x') } });
  const input = [embed('a', 30_000), embed('b', 30_000), embed('huge', 50_001), embed('c', 20_000)].join('\n');
  const run = await cli(['validate', '-', '--on-invalid', 'skip'], input);
  t.equal(run.code, 1);
  const lines = run.stderr.trim().split('\n');
  t.match(lines[0], /^batchline: TOO_MANY_EMBEDDING_INPUTS: .*50001 embedding inputs.*\(line=3 customId="huge"\)$/);
  t.match(lines[1], /^batchline validate: 4 lines, 3 requests, 2 shards, 1 skipped/, '30,000 + 30,000 inputs need two shards; 30,000 + 20,000 fit one');
});

t.test('an input without a request is EMPTY_INPUT, as the Batch API refuses an empty file', async (t) => {
  const dir = t.testdir({ 'empty.jsonl': '', 'blank.jsonl': '\n\n' });
  const empty = await cli(['validate', `${dir}/empty.jsonl`]);
  t.equal(empty.code, 1);
  t.match(empty.stderr, /^batchline: EMPTY_INPUT: the input holds no request; the Batch API refuses an empty file\nbatchline validate: 0 lines, 0 requests/);
  const blank = await cli(['shard', `${dir}/blank.jsonl`, '--out-dir', `${dir}/out`]);
  t.equal(blank.code, 1);
  t.match(blank.stderr, /^batchline: EMPTY_INPUT: /);
  t.equal(blank.stdout, '');
  await t.rejects(readdir(`${dir}/out`), { code: 'ENOENT' }, 'no directory made for no shard');
  const allBad = await cli(['shard', '-', '--out-dir', `${dir}/out`, '--on-invalid', 'skip'], 'nope\n{}\n');
  t.equal(allBad.code, 1);
  t.match(allBad.stderr, /EMPTY_INPUT: no request is left once the 2 bad line\(s\) are skipped/);
});

t.test('validate counts the shards shard would write with its default of 16 open shards', async (t) => {
  // 17 models in turn: past 16 open shards each new one finishes the least recently used.
  const input = Array.from({ length: 34 }, (_, i) => line(`r${i}`, { model: `model-${i % 17}` })).join('\n');
  const checked = await cli(['validate', '-'], input);
  t.equal(checked.code, 0);
  const dir = t.testdir();
  const sharded = await cli(['shard', '-', '--out-dir', `${dir}/out`], input);
  t.equal(sharded.code, 0);
  const shards = sharded.stdout.trim().split('\n').length;
  t.ok(shards > 17, `${shards} shards`);
  t.match(checked.stderr, new RegExp(`34 requests, ${shards} shards, 0 skipped`));
  const roomy = await cli(['validate', '-', '--max-open-shards', '17'], input);
  const roomyShards = await cli(['shard', '-', '--out-dir', `${dir}/out17`, '--max-open-shards', '17'], input);
  t.equal(roomyShards.stdout.trim().split('\n').length, 17);
  t.match(roomy.stderr, /34 requests, 17 shards, 0 skipped/);
});

t.test('shard writes the files, prints one descriptor per shard and a summary', async (t) => {
  const lines = Array.from({ length: 7 }, (_, i) => line(`r${i}`, { model: i < 5 ? 'a' : 'b' }));
  const dir = t.testdir({ 'in.jsonl': lines.join('\r\n') });
  const run = await cli(['shard', `${dir}/in.jsonl`, '--out-dir', `${dir}/out`, '--max-requests', '2']);
  t.equal(run.code, 0);
  const descriptors = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as ShardDescriptor);
  t.same(descriptors.map((d) => [d.index, d.model, d.requests]).sort(), [
    [0, 'a', 2],
    [1, 'a', 2],
    [2, 'a', 1],
    [3, 'b', 2],
  ]);
  t.same((await readdir(`${dir}/out`)).length, 4);
  t.equal(await readFile(descriptors.find((d) => d.index === 3)!.path, 'utf8'), `${lines[5]}\n${lines[6]}\n`);
  t.match(run.stderr, /^batchline shard: 7 lines, 7 requests, 4 shards, 0 skipped, \d+ bytes/);
});

t.test('shard stops at a bad line with its code and removes unfinished files, or skips it with --on-invalid skip', async (t) => {
  const dir = t.testdir();
  await writeFile(`${dir}/in.jsonl`, [line('a'), line('b'), '{"custom_id":"c"}', line('d')].join('\n'));
  const run = await cli(['shard', `${dir}/in.jsonl`, '--out-dir', `${dir}/out`]);
  t.equal(run.code, 1);
  t.match(run.stderr, /^batchline: (MISSING_CUSTOM_ID|INVALID_METHOD): .*line=3.*\nbatchline shard: stopped at line 3: 3 lines, 0 requests, 0 shards/);
  t.same(await readdir(`${dir}/out`), [], 'no partial shard left behind');
  const skip = await cli(['shard', `${dir}/in.jsonl`, '--out-dir', `${dir}/out2`, '--on-invalid', 'skip']);
  t.equal(skip.code, 0);
  t.match(skip.stderr, /INVALID_METHOD.*line=3/);
  t.match(skip.stderr, /4 lines, 3 requests, 1 shards, 1 skipped/);
  t.match(JSON.parse(skip.stdout), { requests: 3, firstLine: 1, lastLine: 4 });
});

t.test('shard refuses, before reading, a directory that holds shards of an earlier run', async (t) => {
  const dir = t.testdir({ 'in.jsonl': [line('a'), line('b')].join('\n') });
  t.equal((await cli(['shard', `${dir}/in.jsonl`, '--out-dir', `${dir}/out`])).code, 0);
  const before = await readFile(`${dir}/out/shard-00000.jsonl`, 'utf8');
  await writeFile(`${dir}/in2.jsonl`, line('z'));
  const again = await cli(['shard', `${dir}/in2.jsonl`, '--out-dir', `${dir}/out`]);
  t.equal(again.code, 1);
  t.equal(again.stderr.split('\n').length, 2, 'one line: no summary, nothing ran');
  t.match(again.stderr, /^batchline: SHARD_EXISTS: .*out\/shard-00000\.jsonl already exists.*--prefix \(shard=0 path=".*shard-00000\.jsonl"\)/);
  t.equal(await readFile(`${dir}/out/shard-00000.jsonl`, 'utf8'), before);
  t.equal((await cli(['shard', `${dir}/in2.jsonl`, '--out-dir', `${dir}/out`, '--prefix', 'next'])).code, 0, 'another prefix is fine');
  t.same((await readdir(`${dir}/out`)).sort(), ['next-00000.jsonl', 'shard-00000.jsonl']);
});

t.test('shard requires --out-dir', async (t) => {
  const run = await cli(['shard', '-']);
  t.equal(run.code, 1);
  t.match(run.stderr, /INVALID_OPTION: --out-dir is required/);
});
