import t from 'tap';
import { readdirSync } from 'node:fs';
import { once } from 'node:events';
import { open } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { BatchlineError, JoinError } from '../src/errors.ts';
import { createJoiner, joinResults } from '../src/streams/join.ts';
import { normalizeJoinOptions, newJoinStats } from '../src/join/options.ts';
import { runJoin } from '../src/join/run.ts';
import type { ResultStatus } from '../src/types.ts';
import { chunked, collect, jsonl, leftovers, request, resultFor, scratch } from './helpers/join-fixtures.ts';

const STATUSES = ['succeeded', 'rejected', 'expired', 'cancelled', 'failed'] as const;

t.test('puts shuffled outputs and errors from several shards back in input order with every status', async (t) => {
  const dir = scratch(t);
  const ids = Array.from({ length: 60 }, (_, i) => `req-${i}`);
  // Blank lines and CRLF in the input: result line numbers are the input's own.
  const input = dir.file('input.jsonl', ids.map((id, i) => (i === 10 ? `\r\n${request(id)}` : request(id))).join('\r\n') + '\n');
  const expected = new Map<string, ResultStatus>();
  const shards: string[][] = [[], [], []];
  ids.forEach((id, i) => {
    if (i % 11 === 3) return expected.set(id, 'missing');
    const status = STATUSES[i % STATUSES.length];
    expected.set(id, status);
    shards[(i * 7) % 3].push(JSON.stringify(resultFor(id, status)));
  });
  const files = shards.map((lines, k) => dir.file(`shard-${k}.jsonl`, jsonl(lines.reverse())));
  const join = joinResults({ input, results: files, partitionRequests: 4, tempDir: dir.dir });
  const results = await collect(join);
  t.same(results.map((r) => r.custom_id), ids, 'input order');
  t.same(results.map((r) => r.status), ids.map((id) => expected.get(id)), 'statuses');
  t.same(results.map((r) => r.line), ids.map((_, i) => (i < 10 ? i + 1 : i + 2)), 'true input line numbers, the blank line counted');
  const rejected = results.find((r) => r.status === 'rejected')!;
  t.same(rejected.response, { status_code: 400, request_id: 'req', body: { error: { message: 'bad' } } });
  t.equal(rejected.error, null);
  const missing = results.find((r) => r.status === 'missing')!;
  t.same([missing.response, missing.error], [null, null]);
  t.same(Object.keys(results[0]), ['custom_id', 'line', 'status', 'response', 'error']);
  t.equal(join.stats.requests, 60);
  t.equal(join.stats.missing, 6);
  t.equal(join.stats.succeeded + join.stats.rejected + join.stats.expired + join.stats.cancelled + join.stats.failed, 54);
  t.ok(join.stats.partitions >= 3, 'spread over several partitions');
  t.same(leftovers(dir.dir), [], 'temp directory removed');
});

t.test('matches custom_ids with unicode, quotes, backslashes and JSON escapes however each file spells them', async (t) => {
  const dir = scratch(t);
  const ids = ['café', 'naïve "quoted"', 'back\\slash', 'tab\there', '日本語🙂', 'slash/', '', 'line\nbreak', 'x'.repeat(300)];
  const escapeAll = (id: string) =>
    [...id].map((ch) => (ch.length === 2 ? ch : ch.charCodeAt(0) > 0x7e || ch === '/' ? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}` : JSON.stringify(ch).slice(1, -1))).join('');
  // Input written with \u escapes for every non-ASCII character, results in plain UTF-8.
  const inputText = ids.map((id) => `{"custom_id":"${escapeAll(id)}","method":"POST","url":"/v1/embeddings","body":{"model":"m"}}`).join('\n');
  const input = dir.file('input.jsonl', inputText);
  const out = dir.file('out.jsonl', jsonl(ids.map((id) => resultFor(id, 'succeeded')).reverse()));
  const results = await collect(joinResults({ input, results: [out], includeRequest: true, tempDir: dir.dir }));
  t.same(results.map((r) => r.custom_id), ids);
  t.ok(results.every((r) => r.status === 'succeeded'));
  t.same(results.map((r) => r.request?.custom_id), ids, 'the echoed request is the parsed input line');
});

t.test('treats null, "" and empty result files as absent', async (t) => {
  const dir = scratch(t);
  const input = dir.file('input.jsonl', jsonl([request('a'), request('b')]));
  const empty = dir.file('empty.jsonl', '');
  const blank = dir.file('blank.jsonl', '\n\n');
  const results = await collect(joinResults({ input, results: [null, '', undefined, empty, blank], tempDir: dir.dir }));
  t.same(results.map((r) => [r.custom_id, r.status]), [['a', 'missing'], ['b', 'missing']]);
  t.same(await collect(joinResults({ input: dir.file('none.jsonl', '\n'), results: [empty], tempDir: dir.dir })), []);
});

t.test('refuses a result whose custom_id is not in the input, or reports and ignores it by option', async (t) => {
  const dir = scratch(t);
  const input = dir.file('input.jsonl', jsonl([request('a'), request('b')]));
  const out = dir.file('out.jsonl', jsonl([resultFor('b', 'succeeded'), resultFor('zzz', 'succeeded'), resultFor('a', 'failed')]));
  await t.rejects(collect(joinResults({ input, results: [out], tempDir: dir.dir })), {
    code: 'UNKNOWN_CUSTOM_ID',
    customId: 'zzz',
    line: 2,
    message: /results\[0\] \(.*out\.jsonl\) line 2/,
  });
  t.same(leftovers(dir.dir), [], 'temp directory removed after the error');
  const issues: JoinError[] = [];
  const join = joinResults({ input, results: [out], tempDir: dir.dir, onIssue: (issue) => issues.push(issue) });
  const results = await collect(join);
  t.same(results.map((r) => r.status), ['failed', 'succeeded']);
  t.same(issues.map((i) => [i.code, i.customId, i.line]), [['UNKNOWN_CUSTOM_ID', 'zzz', 2]]);
  t.ok(issues[0] instanceof JoinError);
  t.equal(join.stats.unknown, 1);
});

t.test('keeps one of identical duplicate results and refuses differing ones', async (t) => {
  const dir = scratch(t);
  const input = dir.file('input.jsonl', jsonl([request('a'), request('b')]));
  const out = dir.file('out.jsonl', jsonl([resultFor('a', 'succeeded'), resultFor('b', 'succeeded')]));
  const again = dir.file('again.jsonl', jsonl([resultFor('a', 'succeeded')]));
  const other = dir.file('other.jsonl', jsonl([resultFor('b', 'expired')]));

  const tolerated = joinResults({ input, results: [out, again], tempDir: dir.dir });
  t.same((await collect(tolerated)).map((r) => r.status), ['succeeded', 'succeeded']);
  t.equal(tolerated.stats.duplicates, 1, 'counted even when not reported');

  await t.rejects(collect(joinResults({ input, results: [out, other], tempDir: dir.dir })), {
    code: 'CONFLICTING_RESULT',
    customId: 'b',
    line: 1,
    message: /other\.jsonl\) line 1.*input line 2\)$/,
  });
  await t.rejects(collect(joinResults({ input, results: [out, other], tempDir: dir.dir })), { message: /^(?!.*is kept)/ }, 'nothing is kept: the join stops');

  const issues: JoinError[] = [];
  const lenient = joinResults({ input, results: [out, again, other], tempDir: dir.dir, onIssue: (i) => issues.push(i) });
  const results = await collect(lenient);
  t.same(results.map((r) => r.status), ['succeeded', 'succeeded'], 'the first result read is kept');
  t.same(issues.map((i) => i.code).sort(), ['CONFLICTING_RESULT', 'DUPLICATE_RESULT']);
  t.match(issues.find((i) => i.code === 'CONFLICTING_RESULT')?.message, /input line 2\); the first one read is kept$/, 'taken by onIssue: the run goes on');
  t.same([lenient.stats.duplicates, lenient.stats.conflicting], [1, 1]);
});

t.test('never mis-joins custom_ids whose hashes collide', async (t) => {
  const dir = scratch(t);
  // A hash that sends every id of the same length to one key.
  let hashed = 0;
  const weak = (_bytes: Uint8Array, start: number, end: number, out: Int32Array) => {
    hashed++;
    out[0] = end - start;
    out[1] = 1;
  };
  // The weak hash goes in through the engine's internal seam, not through the public options.
  const run = (input: string, results: string[], onIssue?: (e: JoinError) => void) => {
    return collect(runJoin(normalizeJoinOptions({ input, results, tempDir: dir.dir, onIssue }), newJoinStats(), { hash: weak }));
  };
  const input = dir.file('input.jsonl', jsonl([request('aa'), request('bb'), request('c'), request('dd')]));
  const out = dir.file('out.jsonl', jsonl([resultFor('dd', 'expired'), resultFor('aa', 'succeeded'), resultFor('bb', 'failed')]));
  t.same((await run(input, [out])).map((r) => `${r.custom_id}:${r.status}`), ['aa:succeeded', 'bb:failed', 'c:missing', 'dd:expired']);
  t.ok(hashed >= 4 + 3, `every id went through the weak hash (${hashed} calls)`);

  // An unknown id sharing a hash with a known one (the only id of its length in the input).
  const stray = dir.file('stray.jsonl', jsonl([resultFor('x', 'succeeded'), resultFor('c', 'rejected')]));
  await t.rejects(run(input, [stray]), { code: 'UNKNOWN_CUSTOM_ID', customId: 'x' });
  const issues: JoinError[] = [];
  const lenient = await run(input, [stray, out], (i) => issues.push(i));
  t.same(lenient.map((r) => r.status), ['succeeded', 'failed', 'rejected', 'expired']);
  t.same(issues.map((i) => i.customId), ['x']);
});

t.test('names a repeated custom_id in the input with its line', async (t) => {
  const dir = scratch(t);
  const input = dir.file('input.jsonl', jsonl([request('a'), request('b'), '', request('a')]));
  await t.rejects(collect(joinResults({ input, results: [], tempDir: dir.dir })), { code: 'DUPLICATE_CUSTOM_ID', line: 4, customId: 'a' });
  t.same(leftovers(dir.dir), []);
});

t.test('refuses bad input and result lines with codes and line numbers', async (t) => {
  const dir = scratch(t);
  const good = dir.file('good.jsonl', jsonl([request('a')]));
  const cases: Array<[string, string, { code: string; line: number }]> = [
    [jsonl([request('a'), '{"custom_id": "b",']), '', { code: 'INVALID_JSON', line: 2 }],
    [jsonl(['{"method": "POST"}']), '', { code: 'MISSING_CUSTOM_ID', line: 1 }],
    [jsonl([request('a'), request('b')]), jsonl([resultFor('a', 'succeeded'), '{"custom_id": "b", "response": null}']), { code: 'INVALID_RESULT_LINE', line: 2 }],
    [jsonl([request('a')]), jsonl(['not json']), { code: 'INVALID_RESULT_LINE', line: 1 }],
    [jsonl([request('a')]), jsonl(['{"custom_id": 3}']), { code: 'INVALID_RESULT_LINE', line: 1 }],
    // A bad escape inside a custom_id, in the input and in a result file.
    [jsonl([request('a'), String.raw`{"custom_id":"a\qb","method":"POST","url":"/v1/embeddings","body":{"model":"m"}}`]), '', { code: 'INVALID_JSON', line: 2 }],
    [jsonl([request('a')]), jsonl([resultFor('a', 'succeeded'), String.raw`{"id":"1","custom_id":"a\q","response":null,"error":{"code":"x","message":"y"}}`]), { code: 'INVALID_RESULT_LINE', line: 2 }],
    // Not JSON past a readable custom_id: refused as the parser refuses it, not joined.
    [jsonl([request('b'), '{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m","n":tru}}']), jsonl([resultFor('a', 'succeeded')]), { code: 'INVALID_JSON', line: 2 }],
  ];
  for (const [inputText, resultText, expected] of cases) {
    const input = inputText ? dir.file('in.jsonl', inputText) : good;
    const results = resultText ? [dir.file('out.jsonl', resultText)] : [];
    for (const includeRequest of [false, true]) {
      await t.rejects(collect(joinResults({ input, results, includeRequest, tempDir: dir.dir })), expected, `${JSON.stringify(expected)} includeRequest ${includeRequest}`);
    }
  }
  await t.rejects(collect(joinResults({ input: good, results: [dir.file('long.jsonl', `{"custom_id":"a","x":"${'y'.repeat(200)}"}\n`)], maxLineBytes: 100, tempDir: dir.dir })), {
    code: 'LINE_TOO_LARGE',
    line: 1,
  });
  await t.rejects(collect(joinResults({ input: `${dir.dir}/absent.jsonl`, results: [], tempDir: dir.dir })), { code: 'INPUT_UNREADABLE' });
  t.throws(() => joinResults({ input: good, results: [42 as unknown as string] }), { code: 'INVALID_OPTION', message: /results\[0\]/ });
  t.throws(() => joinResults({ input: good, results: [], maxPartitionBytes: 10 }), { code: 'INVALID_OPTION', message: /maxPartitionBytes/ });
  t.same(leftovers(dir.dir), []);
});

t.test('refuses with INVALID_JSON an echoed request whose line was broken after it was indexed', async (t) => {
  const dir = scratch(t);
  const ids = Array.from({ length: 3000 }, (_, i) => `r${String(i).padStart(5, '0')}`);
  const lines = ids.map((id) => request(id, { n: 1 }));
  const input = dir.file('input.jsonl', jsonl(lines));
  const join = joinResults({ input, results: [], includeRequest: true, tempDir: dir.dir })[Symbol.asyncIterator]();
  t.equal((await join.next()).value?.custom_id, ids[0]);
  // The last pass reads the file 64 KiB at a time: a line near the end is read after this write.
  const at = Buffer.byteLength(lines.slice(0, 2900).join('\n') + '\n');
  const broken = lines[2900].replace('"n":1', '"n":t');
  const handle = await open(input, 'r+');
  await handle.write(broken, at);
  await handle.close();
  const rest: Promise<unknown> = (async () => {
    for (;;) if ((await join.next()).done) return;
  })();
  await t.rejects(rest, { code: 'INVALID_JSON', line: 2901, message: /input line 2901/ });
  t.same(leftovers(dir.dir), []);
});

t.test('cuts partitions that outgrow the memory cap and still emits in order', async (t) => {
  const dir = scratch(t);
  const ids = Array.from({ length: 200 }, (_, i) => `r${i}`);
  const input = dir.file('input.jsonl', jsonl(ids.map((id) => request(id))));
  const lines = ids.map((id) => ({ ...resultFor(id, 'succeeded'), response: { status_code: 200, request_id: 'q', body: { text: id.repeat(40) } } }));
  const out = dir.file('out.jsonl', jsonl(lines.reverse()));
  const join = joinResults({ input, results: [out], partitionRequests: 100, maxPartitionBytes: 4096, tempDir: dir.dir });
  const results = await collect(join);
  t.same(results.map((r) => r.custom_id), ids);
  t.same(results.map((r) => (r.response?.body as { text: string }).text), ids.map((id) => id.repeat(40)));
  t.ok(join.stats.splits > 0, `${join.stats.splits} splits`);
  t.ok(join.stats.spilledBytes > 4096 * 2);
});

t.test('reads input and results from streams, cut at every chunk size', async (t) => {
  const dir = scratch(t);
  const ids = ['α', 'b', 'γ🙂', 'd'];
  const inputText = '\uFEFF' + ids.map((id) => request(id)).join('\r\n');
  const outText = jsonl([resultFor('γ🙂', 'cancelled'), resultFor('α', 'succeeded')]);
  const errText = jsonl([resultFor('d', 'rejected')]);
  for (const size of [1, 2, 3, 7, 64]) {
    const results = await collect(joinResults({ input: chunked(inputText, size), results: [chunked(outText, size), chunked(errText, size + 1)], tempDir: dir.dir }));
    t.same(results.map((r) => `${r.line}:${r.custom_id}:${r.status}`), ['1:α:succeeded', '2:b:missing', '3:γ🙂:cancelled', '4:d:rejected'], `chunk size ${size}`);
  }
  t.same(leftovers(dir.dir), []);
});

t.test('cleans its temp directory when the consumer stops early or the signal aborts', async (t) => {
  const dir = scratch(t);
  const ids = Array.from({ length: 50 }, (_, i) => `r${i}`);
  const input = dir.file('input.jsonl', jsonl(ids.map((id) => request(id))));
  const out = dir.file('out.jsonl', jsonl(ids.map((id) => resultFor(id, 'succeeded'))));
  let seen = 0;
  const join = joinResults({ input, results: [out], partitionRequests: 5, tempDir: dir.dir });
  for await (const _ of join) {
    if (++seen === 3) break;
  }
  t.ok(join.stats.tempDir);
  t.same(leftovers(dir.dir), [], 'removed after break');

  const controller = new AbortController();
  const aborted = joinResults({ input, results: [out], partitionRequests: 5, tempDir: dir.dir, signal: controller.signal });
  let count = 0;
  await t.rejects(
    (async () => {
      for await (const _ of aborted) if (++count === 10) controller.abort(new Error('stop'));
    })(),
    { code: 'ABORTED' },
  );
  t.ok(count < 50);
  t.same(leftovers(dir.dir), [], 'removed after abort');
  const before = new AbortController();
  before.abort();
  const early = await collect(joinResults({ input, results: [out], tempDir: dir.dir, signal: before.signal })).catch((err: unknown) => err);
  t.ok(early instanceof BatchlineError && early.code === 'ABORTED', 'an aborted signal stops it before it starts');
  t.same(readdirSync(dir.dir).sort(), ['input.jsonl', 'out.jsonl']);
});

t.test('an abort stops a join waiting on a stalled source, with ABORTED, and removes its temp directory', async (t) => {
  const dir = scratch(t);
  const input = dir.file('input.jsonl', jsonl([request('a')]));
  // A result stream that stopped sending mid-line, as a download can.
  const stalled = new PassThrough();
  stalled.write('{"id":"1","custom_id":"a",');
  const controller = new AbortController();
  const join = joinResults({ input, results: [stalled], signal: controller.signal, tempDir: dir.dir });
  const run = collect(join);
  let ended = false;
  run.then(() => (ended = true), () => (ended = true));
  // Under way: its temp directory made, and what the stalled source sent read out of it.
  while (!ended && (leftovers(dir.dir).length === 0 || stalled.readableLength > 0)) await new Promise((resolve) => setTimeout(resolve, 1));
  t.equal(leftovers(dir.dir).length, 1, 'the join is under way');
  const at = Date.now();
  controller.abort(new Error('user gave up'));
  await t.rejects(run, { code: 'ABORTED', message: /user gave up/ });
  t.ok(Date.now() - at < 1000, 'promptly');
  t.same(leftovers(dir.dir), [], 'temp directory removed');
  t.ok(stalled.destroyed, 'the stalled source is let go');
  // The same for a stalled input stream.
  const input2 = new PassThrough();
  input2.write(request('a'));
  const controller2 = new AbortController();
  const run2 = collect(joinResults({ input: input2, results: [], signal: controller2.signal, tempDir: dir.dir }));
  await new Promise((resolve) => setTimeout(resolve, 50));
  controller2.abort();
  await t.rejects(run2, { code: 'ABORTED' });
  t.same(leftovers(dir.dir), []);
});

t.test('createJoiner: an abort while it waits for input destroys it with ABORTED and removes its temp directory', async (t) => {
  const dir = scratch(t);
  for (const reading of [false, true]) {
    const controller = new AbortController();
    const joiner = createJoiner({ results: [], signal: controller.signal, tempDir: dir.dir });
    const failed = once(joiner, 'error');
    // (events.once would reject on the 'error' that comes first.)
    const closed = new Promise((resolve) => joiner.on('close', resolve));
    if (reading) joiner.resume();
    joiner.write(request('a') + '\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (reading) t.equal(leftovers(dir.dir).length, 1, 'the join is under way');
    controller.abort();
    const [error] = await failed;
    t.match(error, { code: 'ABORTED' }, reading ? 'reading' : 'not read');
    await closed;
    t.ok(joiner.destroyed);
    t.same(leftovers(dir.dir), [], 'temp directory removed');
  }
  const before = new AbortController();
  before.abort();
  const joiner = createJoiner({ results: [], signal: before.signal, tempDir: dir.dir });
  t.match((await once(joiner, 'error'))[0], { code: 'ABORTED' }, 'an aborted signal destroys it at once');
});

t.test('reads files past its read buffer, with lines longer than the buffer, from paths', async (t) => {
  const dir = scratch(t);
  const ids = Array.from({ length: 4000 }, (_, i) => `req-${i}`);
  const pad = 'p'.repeat(400);
  const input = dir.file('input.jsonl', jsonl(ids.map((id) => request(id, { pad }))));
  const long = { ...resultFor('req-1234', 'succeeded'), response: { status_code: 200, request_id: 'big', body: { text: 'z'.repeat(3_000_000) } } };
  const rest = ids.filter((id) => id !== 'req-1234').map((id) => resultFor(id, 'rejected'));
  const out = dir.file('out.jsonl', jsonl([...rest.slice(0, 2000), long, ...rest.slice(2000)].reverse()));
  const results = await collect(joinResults({ input, results: [out], tempDir: dir.dir, maxPartitionBytes: 1 << 20 }));
  t.same(results.map((r) => r.custom_id), ids);
  t.equal(results.filter((r) => r.status === 'rejected').length, 3999);
  t.equal((results[1234].response?.body as { text: string }).text.length, 3_000_000);
  await t.rejects(collect(joinResults({ input, results: [out], tempDir: dir.dir, maxLineBytes: 2_000_000 })), { code: 'LINE_TOO_LARGE', line: 2000 });
  t.same(leftovers(dir.dir), []);
});
