import t from 'tap';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LineSplitter } from '../src/core/line-splitter.ts';
import { lineOutput } from '../src/core/line-output.ts';
import { DecodedLine } from '../src/core/parsed-line.ts';
import { UniqueIdSet } from '../src/core/unique-id-set.ts';
import { pumpFile, readLineChunks } from '../src/io/file-reader.ts';
import { parseFile, parseSource } from '../src/streams/parse.ts';
import { createSharder } from '../src/streams/shard.ts';
import { createValidator } from '../src/streams/validate.ts';
import type { ParsedLine } from '../src/types.ts';

const request = (id: string, content: string) =>
  JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model: 'm', messages: [{ role: 'user', content }] } });

async function tempDir(t: { teardown: (fn: () => unknown) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'batchline-reuse-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function collect(into: unknown[], delay = false): Writable {
  return new Writable({
    objectMode: true,
    highWaterMark: 1,
    write(chunk, _encoding, callback) {
      into.push(chunk);
      if (delay) setTimeout(callback, 1);
      else callback();
    },
  });
}

t.test('splits alike at every chunk size, though the caller overwrites each chunk after push', async (t) => {
  const text = '\uFEFF{"a":"é"}\r\n\n  \n{"b":"日本語🙂"}\n' + '{"long":"' + 'x'.repeat(70_000) + '"}\n{"c":1}';
  const input = Buffer.from(text, 'utf8');
  const expected: Array<[number, string]> = [];
  const whole = new LineSplitter(1 << 20, (bytes, line) => expected.push([line, bytes.toString('utf8')]));
  whole.push(input);
  whole.end();
  t.equal(expected.length, 6);
  t.equal(expected[4][1].length, 70_011, 'the long line, which spans chunks below 64 KiB');
  for (const size of [1, 2, 3, 7, 64, 65536]) {
    const out: Array<[number, string]> = [];
    const splitter = new LineSplitter(1 << 20, (bytes, line) => out.push([line, bytes.toString('utf8')]));
    const chunk = Buffer.alloc(size);
    for (let i = 0; i < input.length; i += size) {
      const n = input.copy(chunk, 0, i, i + size);
      splitter.push(chunk.subarray(0, n));
      // The same buffer is read into again: anything the splitter kept a view of would change.
      chunk.fill(0x3f);
    }
    splitter.end();
    t.same(out, expected, `chunk size ${size}`);
  }
});

t.test('a line spanning chunks stays intact until the next push', async (t) => {
  const held: Buffer[] = [];
  const splitter = new LineSplitter(100, (bytes) => held.push(bytes));
  splitter.push(Buffer.from('{"a":'));
  splitter.push(Buffer.from('1}\n{"b":'));
  t.equal(held[0].toString(), '{"a":1}', 'the line assembled in one buffer is not touched by the carry that follows it');
  splitter.push(Buffer.from('2}\n'));
  t.equal(held[1].toString(), '{"b":2}');
});

t.test('a decoded line gives its exact bytes on demand and writes out as its text', async (t) => {
  const text = request('a', 'é🙂');
  const parsed = DecodedLine.decode(Buffer.from(text), 3, JSON.parse);
  t.equal(parsed.line, 3);
  t.same(parsed.bytes, Buffer.from(text));
  t.same(lineOutput(parsed), { raw: undefined, text, size: Buffer.byteLength(text) });
  const validated = parsed.withValue({ ok: true });
  t.same(validated.value, { ok: true });
  t.equal(validated.text, text);
  t.same(lineOutput({ line: 1, value: { x: 1 } } as ParsedLine), { raw: undefined, text: '{"x":1}', size: 7 }, 'objects are serialised once');
});

t.test('a line that is not valid UTF-8 keeps its bytes: the shard holds them unchanged', async (t) => {
  const dir = await tempDir(t);
  // 0xff never occurs in UTF-8; decoding would turn it into U+FFFD (three other bytes).
  const line = Buffer.from(request('bad', 'x#y'), 'utf8');
  line[line.indexOf('#')] = 0xff;
  const input = Buffer.concat([Buffer.from(`${request('a', 'y')}\n`), line, Buffer.from(`\n${request('b', 'z')}\n`)]);
  const parsed: ParsedLine[] = [];
  await pipeline(parseSource(Readable.from([input])), collect(parsed));
  t.same(parsed[1].bytes, line, 'the raw bytes, not the text encoded again');
  t.same(lineOutput(parsed[1]).raw, line);
  const shards: unknown[] = [];
  await pipeline(parseSource(Readable.from([input])), createValidator(), createSharder({ dir }), collect(shards));
  const [name] = await readdir(dir);
  t.same(await readFile(join(dir, name)), input, 'byte for byte');
});

t.test('parseFile reads through reused buffers and gives what parseSource gives, with a slow reader behind it', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'in.jsonl');
  const lines = Array.from({ length: 300 }, (_, i) => request(`id-${i}`, 'é日本語🙂'.repeat(i % 7)));
  const input = Buffer.from(`\uFEFF${lines.join('\r\n')}\n\n`, 'utf8');
  await writeFile(path, input);
  const expected: ParsedLine[] = [];
  await pipeline(parseSource(Readable.from([input])), collect(expected));
  for (const chunkBytes of [7, 100, 65536]) {
    const out: ParsedLine[] = [];
    // The slow reader keeps the parser's queue full, so chunks wait in its write buffer while more are read.
    await pipeline(parseFile(path, { chunkBytes }), collect(out, true));
    t.same(
      out.map((p) => [p.line, p.value, p.bytes?.toString()]),
      expected.map((p) => [p.line, p.value, p.bytes?.toString()]),
      `chunk size ${chunkBytes}`,
    );
  }
});

t.test('pumpFile refills a buffer only after its chunk was called back for', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'data.bin');
  const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
  await writeFile(path, data);
  const copies: Buffer[] = [];
  let outstanding = 0;
  let most = 0;
  const slow = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _encoding, callback) {
      const copy = Buffer.from(chunk);
      copies.push(copy);
      outstanding++;
      most = Math.max(most, outstanding);
      setTimeout(() => {
        outstanding--;
        callback(chunk.equals(copy) ? null : new Error('the chunk changed before it was called back for'));
      }, 1);
    },
  });
  await pumpFile(path, slow, { chunkBytes: 64 });
  t.same(Buffer.concat(copies), data);
  t.ok(most >= 1);
});

t.test('pumpFile fails with INPUT_UNREADABLE and stops when its destination is destroyed', async (t) => {
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  await t.rejects(pumpFile('/nonexistent/in.jsonl', sink), {
    name: 'IoError',
    code: 'INPUT_UNREADABLE',
    message: 'cannot read /nonexistent/in.jsonl: does not exist',
    path: '/nonexistent/in.jsonl',
    syscallCode: 'ENOENT',
  });
  await t.rejects(
    pipeline(parseFile('/nonexistent/in.jsonl'), collect([])),
    { code: 'INPUT_UNREADABLE' },
    'parseFile hands the error to its pipeline',
  );
  const dir = await tempDir(t);
  const path = join(dir, 'big.bin');
  await writeFile(path, Buffer.alloc(1 << 20, 0x61));
  // Nobody reads this transform, so it stops calling back once its queue is full; destroying it must end the pump.
  const stuck = new Transform({ highWaterMark: 1, transform: (chunk, _e, cb) => cb(null, chunk) });
  const pumping = pumpFile(path, stuck, { chunkBytes: 1024 });
  setTimeout(() => stuck.destroy(), 20);
  await pumping;
  t.ok(stuck.destroyed);
});

async function viewsOf(path: string, maxLineBytes: number, chunkBytes: number): Promise<string[]> {
  const views: string[] = [];
  // Copied at once: a view is valid only until the generator resumes.
  for await (const view of readLineChunks(path, { maxLineBytes, chunkBytes })) views.push(view.toString('latin1'));
  return views;
}

t.test('readLineChunks yields views that end at line breaks, growing its buffer for a long line up to the cap', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'lines.jsonl');
  const text = 'a\nbb\n' + 'x'.repeat(300) + '\nccc\nlast';
  await writeFile(path, text);
  const views = await viewsOf(path, 1000, 16);
  t.equal(views.join(''), text);
  t.same(views.filter((view) => !view.endsWith('\n')), ['last'], 'only the unterminated last line ends elsewhere');
  t.ok(views.some((view) => view.includes('x'.repeat(300))), 'the long line comes whole, in a grown buffer');
  // Past maxLineBytes the buffer stops growing and hands the line on in pieces, for the splitter to refuse.
  const capped = await viewsOf(path, 50, 16);
  t.equal(capped.join(''), text);
  t.ok(capped.every((view) => view.length <= 53), `no view past the cap: ${capped.map((view) => view.length)}`);
  t.ok(capped.some((view) => !view.endsWith('\n') && view !== 'last'), 'the long line is cut');
});

t.test('readLineChunks fails with INPUT_UNREADABLE naming the path', async (t) => {
  const dir = await tempDir(t);
  const absent = join(dir, 'absent.jsonl');
  await t.rejects(viewsOf(absent, 100, 16), { code: 'INPUT_UNREADABLE', message: `cannot read ${absent}: does not exist`, path: absent, syscallCode: 'ENOENT' });
  await t.rejects(viewsOf(dir, 100, 16), { code: 'INPUT_UNREADABLE', message: `cannot read ${dir}: is a directory`, path: dir, syscallCode: 'EISDIR' });
});

t.test('the id set stays exact across the growth that releases its old arrays', async (t) => {
  const set = new UniqueIdSet();
  for (let i = 0; i < 100_000; i++) set.add(`ïd-${i}`, i + 1);
  for (const i of [0, 1, 511, 512, 4095, 65_535, 99_999]) t.throws(() => set.add(`ïd-${i}`, 1), { code: 'DUPLICATE_CUSTOM_ID', message: new RegExp(`line ${i + 1}$`) });
  t.equal(set.size, 100_000);
});
