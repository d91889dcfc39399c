import t from 'tap';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { main } from '../src/cli/main.ts';
import type { CommandIO } from '../src/cli/command.ts';
import { createJoiner } from '../src/streams/join.ts';
import { createCallbackSink, createJsonlSink } from '../src/streams/sink.ts';
import type { JoinedResult } from '../src/types.ts';
import { jsonl, leftovers, request, resultFor, scratch } from './helpers/join-fixtures.ts';

function io(stdinText = ''): CommandIO & { out(): string; err(): string } {
  let out = '';
  let err = '';
  return {
    stdin: Readable.from([Buffer.from(stdinText)]),
    stdout: new Writable({ write: (chunk, _e, cb) => ((out += chunk), cb()) }),
    stderr: new Writable({ write: (chunk, _e, cb) => ((err += chunk), cb()) }),
    env: {},
    out: () => out,
    err: () => err,
  };
}

const lines = (text: string) => text.trim().split('\n').map((line) => JSON.parse(line) as JoinedResult);

t.test('batchline join writes one line per request in input order and counts statuses on stderr', async (t) => {
  const dir = scratch(t);
  const input = dir.file('input.jsonl', jsonl([request('a'), request('b'), request('c'), request('d')]));
  const out = dir.file('out.jsonl', jsonl([resultFor('c', 'succeeded'), resultFor('a', 'succeeded')]));
  const err = dir.file('err.jsonl', jsonl([resultFor('d', 'expired'), resultFor('b', 'rejected')]));
  const target = join(dir.dir, 'joined.jsonl');
  const run = io();
  t.equal(await main(['join', input, out, err, '-o', target, '--temp-dir', dir.dir], run), 0, run.err());
  const joined = lines(readFileSync(target, 'utf8'));
  t.same(joined.map((r) => [r.custom_id, r.line, r.status]), [['a', 1, 'succeeded'], ['b', 2, 'rejected'], ['c', 3, 'succeeded'], ['d', 4, 'expired']]);
  t.match(run.err(), /batchline join: 4 requests: 2 succeeded, 0 failed, 1 rejected, 1 expired, 0 cancelled, 0 missing; 4 result lines/);
  t.equal(run.out(), '');
  t.same(readdirSync(dir.dir).filter((name) => name.includes('partial') || name.startsWith('batchline-join-')), []);

  const toStdout = io(readFileSync(input, 'utf8'));
  t.equal(await main(['join', '-', out, err, '--include-request', '--temp-dir', dir.dir], toStdout), 0);
  const printed = lines(toStdout.out());
  t.same(printed.map((r) => r.request?.custom_id), ['a', 'b', 'c', 'd'], 'stdin input, stdout output, requests echoed');
});

t.test('batchline join exits 1 naming the first request without a result, after writing them all', async (t) => {
  const dir = scratch(t);
  const input = dir.file('input.jsonl', jsonl([request('a'), '', request('b'), request('c')]));
  const out = dir.file('out.jsonl', jsonl([resultFor('a', 'succeeded')]));
  const run = io();
  t.equal(await main(['join', input, out, '--temp-dir', dir.dir], run), 1);
  t.same(lines(run.out()).map((r) => r.status), ['succeeded', 'missing', 'missing']);
  t.match(run.err(), /^batchline: MISSING_RESULTS: 2 input request\(s\) have no result line \(line=3 customId="b"\)\nbatchline join: 3 requests: 1 succeeded, .* 2 missing;/);
});

t.test('batchline join refuses unknown custom_ids unless --on-invalid skip, and leaves no partial output', async (t) => {
  const dir = scratch(t);
  const input = dir.file('input.jsonl', jsonl([request('a')]));
  const out = dir.file('out.jsonl', jsonl([resultFor('a', 'succeeded'), resultFor('ghost', 'succeeded')]));
  const target = join(dir.dir, 'joined.jsonl');
  const strict = io();
  t.equal(await main(['join', input, out, '-o', target, '--temp-dir', dir.dir], strict), 1);
  t.match(strict.err(), /^batchline: UNKNOWN_CUSTOM_ID: .*line 2: custom_id "ghost" is not in the input/);
  t.notOk(existsSync(target));
  t.same(readdirSync(dir.dir).sort(), ['input.jsonl', 'out.jsonl'], 'no partial file, no temp dir');
  const skip = io();
  t.equal(await main(['join', input, out, '-o', target, '--on-invalid', 'skip', '--temp-dir', dir.dir], skip), 0);
  t.match(skip.err(), /UNKNOWN_CUSTOM_ID.*ghost/);
  t.match(skip.err(), /1 unknown/);
  t.same(lines(readFileSync(target, 'utf8')).map((r) => r.status), ['succeeded']);
});

t.test('a failed join says how far it got, in counts that add up, after its error', async (t) => {
  const dir = scratch(t);
  const ids = Array.from({ length: 10 }, (_, i) => `r${i}`);
  const input = dir.file('input.jsonl', jsonl(ids.map((id) => request(id))));
  // Two different results for r7: the join stops there, after the requests before it.
  const out = dir.file('out.jsonl', jsonl([...ids.map((id) => resultFor(id, 'succeeded')), resultFor('r7', 'rejected')]));
  const run = io();
  t.equal(await main(['join', input, out, '--temp-dir', dir.dir], run), 1);
  const [error, summary, rest] = run.err().split('\n');
  t.match(error, /^batchline: CONFLICTING_RESULT: results\[0\] \(.*out\.jsonl\) line 11: a second, different result for custom_id "r7" \(input line 8\) \(line=11 customId="r7"\)$/);
  t.notMatch(error, /is kept/, 'nothing is kept: the run fails');
  const counts = /stopped after (\d+) of 10 requests read: (\d+) succeeded, 0 failed, 0 rejected, 0 expired, 0 cancelled, 0 missing; 11 result lines/.exec(summary);
  t.ok(counts, summary);
  t.equal(counts![1], counts![2], 'the statuses add up to the requests joined');
  t.ok(Number(counts![1]) <= 7, 'none past the conflict');
  t.equal(rest, '');
  t.equal(lines(run.out()).length, Number(counts![1]), 'as many results written as counted');
  const skip = io();
  t.equal(await main(['join', input, out, '--on-invalid', 'skip', '--temp-dir', dir.dir], skip), 0);
  t.match(skip.err(), /CONFLICTING_RESULT: .*r7.*; the first one read is kept/);
  t.match(skip.err(), /batchline join: 10 requests: 10 succeeded/);
});

t.test('batchline join checks its arguments', async (t) => {
  const run = io();
  t.equal(await main(['join'], run), 1);
  t.match(run.err(), /INVALID_OPTION/);
  const twice = io();
  t.equal(await main(['join', '-', '-'], twice), 1);
  t.match(twice.err(), /stdin \(-\) can stand for one file only/);
  const help = io();
  t.equal(await main(['join', '--help'], help), 0);
  t.match(help.out(), /usage: batchline join <input.jsonl\|-> <result.jsonl>\.\.\./);
});

t.test('createJoiner composes in stream.pipeline into a JSONL file and into a callback', async (t) => {
  const dir = scratch(t);
  const ids = Array.from({ length: 30 }, (_, i) => `r${i}`);
  const input = dir.file('input.jsonl', jsonl(ids.map((id) => request(id))));
  const out = dir.file('out.jsonl', jsonl(ids.filter((_, i) => i % 4).map((id) => resultFor(id, 'succeeded')).reverse()));
  const target = join(dir.dir, 'joined.jsonl');
  const toFile = createJoiner({ results: [out], partitionRequests: 4, tempDir: dir.dir });
  await pipeline(createReadStream(input), toFile, createJsonlSink(target));
  t.same(lines(readFileSync(target, 'utf8')).map((r) => r.custom_id), ids);
  t.equal(toFile.stats.missing, 8);

  // A slow async callback (a database insert) holds the joiner back instead of queueing results.
  const stored: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  await pipeline(
    createReadStream(input),
    createJoiner({ results: [out], tempDir: dir.dir }),
    createCallbackSink(async (result: JoinedResult) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      stored.push(`${result.custom_id}:${result.status}`);
      inFlight--;
    }),
  );
  t.same(stored, ids.map((id, i) => `${id}:${i % 4 ? 'succeeded' : 'missing'}`));
  t.equal(maxInFlight, 1, 'one call at a time');
  t.same(leftovers(dir.dir), []);
});

t.test('a failing callback stops the pipeline with a coded error and the joiner cleans up', async (t) => {
  const dir = scratch(t);
  const input = dir.file('input.jsonl', jsonl([request('a'), request('b')]));
  const out = dir.file('out.jsonl', jsonl([resultFor('a', 'succeeded'), resultFor('b', 'succeeded')]));
  await t.rejects(
    pipeline(
      createReadStream(input),
      createJoiner({ results: [out], tempDir: dir.dir }),
      createCallbackSink((result: JoinedResult) => {
        if (result.custom_id === 'b') throw new Error('insert failed');
      }),
    ),
    { code: 'SINK_CALLBACK_FAILED', customId: 'b', line: 2 },
  );
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.same(leftovers(dir.dir), []);
  t.throws(() => createJoiner({ results: [], maxPartitions: 0 }), { code: 'INVALID_OPTION' });
});

t.test('the JSONL sink honours the destination backpressure', async (t) => {
  let writes = 0;
  const slow = new Writable({
    highWaterMark: 16,
    write(_chunk, _e, cb) {
      writes++;
      setTimeout(cb, 1);
    },
  });
  const results = Array.from({ length: 200 }, (_, i) => ({ custom_id: `r${i}`, line: i + 1, status: 'missing', response: null, error: null }));
  const sink = createJsonlSink(slow, { end: true });
  const through = new PassThrough({ objectMode: true });
  let text = '';
  const original = slow.write.bind(slow);
  slow.write = ((chunk: unknown, ...rest: unknown[]) => {
    text += String(chunk);
    return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof slow.write;
  await pipeline(Readable.from(results), through, sink);
  t.equal(text.split('\n').filter(Boolean).length, 200);
  t.same(JSON.parse(text.split('\n')[199]), results[199]);
  t.ok(writes < 200, `${writes} writes for 200 lines: queued lines go out together`);
  t.ok(slow.writableFinished, 'ended with end: true');
});
