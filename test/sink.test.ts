import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import { createCallbackSink, createJsonlSink } from '../src/index.ts';
import { tempDir } from './helpers/temp.ts';

t.test('a JSONL file sink renames its file into place only once complete', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'out.jsonl');
  await pipeline(Readable.from([{ a: 1 }, { b: 'é' }]), createJsonlSink(path));
  t.equal(await readFile(path, 'utf8'), '{"a":1}\n{"b":"é"}\n');
  t.same(await readdir(dir), ['out.jsonl'], 'no temporary file left');
});

t.test('an aborted or failed file sink leaves no file and no temporary file behind', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'out.jsonl');
  const controller = new AbortController();
  async function* endless() {
    for (let i = 0; ; i++) {
      if (i === 1000) controller.abort();
      yield { i, pad: 'x'.repeat(100) };
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  await t.rejects(pipeline(Readable.from(endless()), createJsonlSink(path, { signal: controller.signal })), { code: 'ABORTED' });
  t.same(await readdir(dir), [], 'abort: nothing left');

  async function* failing() {
    yield { ok: 1 };
    throw new Error('source broke');
  }
  await t.rejects(pipeline(Readable.from(failing()), createJsonlSink(path)), { message: 'source broke' });
  t.same(await readdir(dir), [], 'error: nothing left');
});

t.test('a file sink over an existing file replaces it only on success', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'out.jsonl');
  await pipeline(Readable.from([{ v: 1 }]), createJsonlSink(path));
  async function* failing() {
    yield { v: 2 };
    throw new Error('boom');
  }
  await t.rejects(pipeline(Readable.from(failing()), createJsonlSink(path)));
  t.equal(await readFile(path, 'utf8'), '{"v":1}\n', 'the old complete file is untouched');
});

t.test('a callback sink names the result whose callback failed', async (t) => {
  await t.rejects(
    pipeline(
      Readable.from([{ custom_id: 'a', line: 1 }, { custom_id: 'b', line: 2 }]),
      createCallbackSink(async (r: { custom_id: string }) => {
        if (r.custom_id === 'b') throw new Error('db down');
      }),
    ),
    { code: 'SINK_CALLBACK_FAILED', customId: 'b', line: 2 },
  );
});

t.test('an abort at any moment leaves either the old file (and ABORTED) or the new one (and success), never a mix', async (t) => {
  const dir = await tempDir(t);
  const outcomes = { replaced: 0, kept: 0 };
  for (let i = 0; i < 30; i++) {
    const path = join(dir, `out-${i}.jsonl`);
    await pipeline(Readable.from([{ v: 'old' }]), createJsonlSink(path));
    const controller = new AbortController();
    const run = pipeline(
      Readable.from(Array.from({ length: 2000 }, (_, j) => ({ j }))),
      createJsonlSink(path, { signal: controller.signal }),
    );
    setTimeout(() => controller.abort(), i % 6);
    const result = await run.then(
      () => 'ok',
      (err: { code?: string }) => err.code,
    );
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n').length;
    if (result === 'ok') {
      t.equal(lines, 2000, `run ${i}: success means the new file, whole`);
      outcomes.replaced++;
    } else {
      t.equal(result, 'ABORTED');
      t.equal(lines, 1, `run ${i}: ABORTED means the old file, untouched`);
      outcomes.kept++;
    }
  }
  t.same((await readdir(dir)).filter((name) => name.includes('.partial-')), [], 'no temporary file left');
  t.ok(outcomes.kept > 0, `some runs were aborted in time (${outcomes.kept} of 30)`);
});

t.test('a caller\'s stream destroyed under the sink (no error) fails it with SINK_CLOSED instead of hanging', async (t) => {
  const { Writable } = await import('node:stream');
  // A slow stream that never drains: the sink waits on 'drain' when it is destroyed.
  const dest = new Writable({ highWaterMark: 8, write(_chunk, _encoding, _callback) {} });
  const rows = Readable.from(Array.from({ length: 100 }, (_, i) => ({ custom_id: `c${i}` })));
  setTimeout(() => dest.destroy(), 20);
  const err = await pipeline(rows, createJsonlSink(dest)).then(
    () => null,
    (e: unknown) => e as { code?: string },
  );
  t.equal(err?.code, 'SINK_CLOSED');

  // Already closed before the first write.
  const closed = new Writable({ write(_c, _e, cb) { cb(); } });
  closed.destroy();
  await new Promise((r) => closed.once('close', r));
  const early = await pipeline(Readable.from([{ custom_id: 'a' }]), createJsonlSink(closed)).then(
    () => null,
    (e: unknown) => e as { code?: string },
  );
  t.equal(early?.code, 'SINK_CLOSED');

  // A stream left open after the sink finished may close later: no error then.
  const open = new Writable({ write(_c, _e, cb) { cb(); } });
  await pipeline(Readable.from([{ custom_id: 'a' }]), createJsonlSink(open));
  open.destroy();
  t.pass('closing the caller\'s stream after the sink finished is fine');
});
