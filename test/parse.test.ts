import t from 'tap';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createParser, parseSource, type ParserOptions } from '../src/streams/parse.ts';
import { createValidator } from '../src/streams/validate.ts';
import type { ParsedLine } from '../src/types.ts';
import { chunked, collect, settled, turn } from './helpers/streams.ts';

const CHUNK_SIZES = [1, 2, 3, 7, 64, 65536];

async function parse(input: Buffer, size: number, options: ParserOptions = {}) {
  const out: ParsedLine[] = [];
  const parser = createParser(options);
  await pipeline(chunked(input, size), parser, collect(out));
  return { lines: out.map((p) => ({ line: p.line, value: p.value, bytes: p.bytes?.toString('utf8') })), stats: parser.stats };
}

const request = (id: string, content: string) =>
  JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model: 'm', messages: [{ role: 'user', content }] } });

t.test('parses the same at every chunk size: split UTF-8, CRLF, a BOM and blank lines', async (t) => {
  const text = '\uFEFF' + request('a', 'é日本語🙂') + '\r\n\r\n  \n' + request('b', 'ß') + '\n' + request('c', '🙂🙂') + '\n\n';
  const input = Buffer.from(text, 'utf8');
  const whole = await parse(input, input.length);
  t.same(
    whole.lines.map((l) => l.line),
    [1, 4, 5],
  );
  t.equal((whole.lines[0].value as { body: { messages: Array<{ content: string }> } }).body.messages[0].content, 'é日本語🙂');
  t.equal(whole.lines[0].bytes, request('a', 'é日本語🙂'), 'bytes are the line without BOM or CR');
  t.match(whole.stats, { lines: 6, blank: 3, values: 3, skipped: 0, bytes: input.length });
  for (const size of CHUNK_SIZES) t.same(await parse(input, size), whole, `chunk size ${size}`);
});

t.test('reports invalid JSON as INVALID_JSON with its 1-based line, at every chunk size', async (t) => {
  const input = Buffer.from(`${request('a', 'x')}\n\n{"custom_id": "b",\n${request('c', 'y')}\n`);
  for (const size of CHUNK_SIZES) {
    await t.rejects(parse(input, size), { code: 'INVALID_JSON', line: 3, name: 'ParseError' }, `chunk size ${size}`);
  }
});

t.test('refuses a line over maxLineBytes with LINE_TOO_LARGE and its line, and takes a huge line under it', async (t) => {
  const huge = request('big', 'x'.repeat(3_000_000));
  const input = Buffer.from(`${request('a', 'x')}\n${huge}\n${request('c', 'y')}\n`);
  for (const size of [7, 65536]) {
    await t.rejects(parse(input, size, { maxLineBytes: 1_000_000 }), { code: 'LINE_TOO_LARGE', line: 2 }, `chunk size ${size}`);
  }
  const { lines } = await parse(input, 65536);
  t.equal(lines.length, 3);
  t.equal(lines[1].bytes?.length, huge.length);
});

t.test('skip counts and reports every invalid line and keeps the rest', async (t) => {
  const input = Buffer.from(`${request('a', 'x')}\nnot json\n${request('b', 'x')}\n[1,\n`);
  for (const size of [1, 65536]) {
    const { lines, stats } = await parse(input, size, { onInvalid: 'skip' });
    t.same(
      lines.map((l) => l.line),
      [1, 3],
    );
    t.equal(stats.skipped, 2);
    t.same(
      stats.skippedErrors.map((e) => [e.code, e.line]),
      [
        ['INVALID_JSON', 2],
        ['INVALID_JSON', 4],
      ],
    );
  }
  const seen: number[] = [];
  await parse(input, 5, { onInvalid: (err) => seen.push(err.line as number) });
  t.same(seen, [2, 4], 'a function policy hears each one');
  await t.rejects(
    parse(input, 5, {
      onInvalid: () => {
        throw new Error('stop');
      },
    }),
    { message: 'stop' },
    'a function policy can fail the pipeline',
  );
});

t.test('lines of a first write reach the next stage before a bad line after them is reported', async (t) => {
  const heard: string[] = [];
  const input = Buffer.from(`${request('a', 'x')}\n${request('b', 'x')}\nnope\n${request('c', 'x')}\n`);
  const parser = parseSource(Readable.from([input]), { onInvalid: (err) => heard.push(`${err.code} ${err.line}`) });
  const next = new Writable({
    objectMode: true,
    write(parsed: ParsedLine, _encoding, callback) {
      heard.push(`line ${parsed.line}`);
      callback();
    },
  });
  await pipeline(parser, next);
  t.same(heard, ['line 1', 'line 2', 'INVALID_JSON 3', 'line 4']);
});

t.test('takes objects from an async generator standing in for a database cursor', async (t) => {
  async function* rows() {
    for (let i = 1; i <= 5; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      yield { id: i, prompt: `row ${i}` };
    }
  }
  const out: ParsedLine[] = [];
  const parser = parseSource(rows());
  await pipeline(parser, collect(out));
  t.same(
    out.map((p) => [p.line, (p.value as { id: number }).id, p.bytes]),
    [1, 2, 3, 4, 5].map((i) => [i, i, undefined]),
  );
  t.match(parser.stats, { lines: 5, values: 5, bytes: 0 });
});

t.test('parseSource reads a Readable of bytes and an iterable of strings cut anywhere', async (t) => {
  const text = `${request('a', 'é')}\n${request('b', 'ü')}\n`;
  const pieces = [text.slice(0, 10), text.slice(10, 50), text.slice(50)];
  for (const source of [Readable.from([Buffer.from(text)]), pieces]) {
    const out: ParsedLine[] = [];
    await pipeline(parseSource(source), collect(out));
    t.same(
      out.map((p) => (p.value as { custom_id: string }).custom_id),
      ['a', 'b'],
    );
  }
});

t.test('refuses bytes and objects in one stream with MIXED_INPUT', async (t) => {
  await t.rejects(pipeline(parseSource([Buffer.from('{"a":1}\n'), { a: 2 }]), collect([])), { code: 'MIXED_INPUT', line: 2 });
});

t.test('an error in the source destroys the parser with that error', async (t) => {
  async function* failing() {
    yield Buffer.from(`${request('a', 'x')}\n`);
    throw new Error('cursor lost');
  }
  await t.rejects(pipeline(parseSource(failing()), collect([])), { message: 'cursor lost' });
});

t.test('an abort signal destroys the parser with a coded ABORTED error', async (t) => {
  const controller = new AbortController();
  async function* endless() {
    for (let i = 0; ; i++) {
      if (i === 100) controller.abort();
      yield Buffer.from(`${request(`id${i}`, 'x')}\n`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  await t.rejects(pipeline(endless(), createParser({ signal: controller.signal }), collect([])), { code: 'ABORTED' });
});

t.test('one large write is pushed only as fast as it is read: queued objects stay within the highWaterMark', async (t) => {
  const count = 200_000;
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(`{"custom_id":"${i}","method":"POST","url":"/v1/embeddings","body":{"model":"m","input":"y"}}\n`);
  const big = Buffer.from(lines.join('')); // ≈ 19 MB in one chunk, as fs.readFile or one large socket read gives
  const parser = createParser();
  let written = false;
  parser.write(big, () => (written = true));
  await settled(() => `${parser.readableLength} ${written}`);
  const bound = parser.readableHighWaterMark;
  t.ok(parser.readableLength <= bound, `${parser.readableLength} objects queued with no reader (bound ${bound})`);
  t.notOk(written, 'the chunk is not called back for while lines of it wait');
  parser.end();
  let next = 0;
  let inOrder = true;
  let worst = 0;
  for await (const parsed of parser as AsyncIterable<ParsedLine>) {
    if ((parsed.value as { custom_id: string }).custom_id !== String(next) || parsed.line !== next + 1) inOrder = false;
    next++;
    worst = Math.max(worst, parser.readableLength);
  }
  t.equal(next, count, 'every line comes out');
  t.ok(inOrder, 'in order, with true line numbers');
  t.ok(worst <= bound, `at most ${worst} objects queued while read`);
  t.ok(written);
  t.match(parser.stats, { lines: count, values: count, bytes: big.length });
});

t.test('a paused chunk goes on at every chunk size, with skipped lines, blank lines and a last line without a break', async (t) => {
  const text = Array.from({ length: 300 }, (_, i) => (i % 7 === 3 ? 'not json' : i % 11 === 5 ? '' : request(`r${i}`, 'é'))).join('\r\n');
  const input = Buffer.from(text);
  const expected = (await parse(input, input.length, { onInvalid: 'skip' })).lines;
  for (const size of [1, 100, 4096, input.length]) {
    const parser = createParser({ onInvalid: 'skip' });
    const out: ParsedLine[] = [];
    // A reader slower than the writer, so that chunks are paused part way.
    const slow = new Writable({
      objectMode: true,
      highWaterMark: 1,
      write(chunk, _encoding, callback) {
        out.push(chunk);
        setImmediate(callback);
      },
    });
    await pipeline(chunked(input, size), parser, slow);
    t.same(out.map((p) => ({ line: p.line, value: p.value, bytes: p.bytes?.toString('utf8') })), expected, `chunk size ${size}`);
  }
});

t.test('a stalled consumer stops the source: buffering stays bounded', async (t) => {
  const line = Buffer.from(`${request('x', 'y'.repeat(1000))}\n`);
  let pulled = 0;
  let id = 0;
  const source = new Readable({
    highWaterMark: 64 * 1024,
    read() {
      // A bound, so that a parser that ignored backpressure fails this test rather than hangs it.
      if (pulled > 64 * 1024 * 1024) return void this.destroy(new Error('the source was read without end'));
      const lines: Buffer[] = [];
      for (let i = 0; i < 64; i++) lines.push(Buffer.from(line.toString().replace('"x"', `"${id++}"`)));
      const chunk = Buffer.concat(lines);
      pulled += chunk.length;
      this.push(chunk);
    },
  });
  let consumed = 0;
  let release: () => void = () => undefined;
  const stalled = new Promise<void>((resolve) => (release = resolve));
  const sink = new Writable({
    objectMode: true,
    highWaterMark: 1,
    write(_chunk, _encoding, callback) {
      consumed++;
      if (consumed === 10) stalled.then(() => callback());
      else if (consumed >= 2000) source.destroy();
      else callback();
    },
  });
  const done = pipeline(source, createParser(), createValidator(), sink).catch(() => undefined);
  await settled(() => `${pulled} ${consumed}`);
  t.equal(consumed, 10, 'the pipeline waits on the stalled consumer');
  const held = pulled - consumed * line.length;
  t.ok(held < 2 * 1024 * 1024, `held ${held} bytes while the consumer stalled`);
  const pulledWhileStalled = pulled;
  for (let i = 0; i < 10; i++) await turn();
  t.equal(pulled, pulledWhileStalled, 'no further reads while stalled');
  release();
  await done;
  t.ok(consumed >= 2000, 'the pipeline moves on once the consumer does');
});

t.test('a stalled consumer behind large chunks: the parser queues no more than its highWaterMark', async (t) => {
  // The test above feeds 64 KiB chunks; here each chunk holds thousands of lines.
  for (const linesPerChunk of [1, 5_000, 50_000]) {
    let id = 0;
    const source = new Readable({
      highWaterMark: 1,
      read() {
        // A bound, so that a parser that ignored backpressure fails this test rather than hangs it.
        if (id > 2_000_000) return void this.destroy(new Error('the source was read without end'));
        const lines: string[] = [];
        for (let i = 0; i < linesPerChunk; i++) lines.push(`${request(String(id++), 'y')}\n`);
        this.push(Buffer.from(lines.join('')));
      },
    });
    const parser = createParser();
    const validator = createValidator();
    let release: () => void = () => undefined;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    let consumed = 0;
    const sink = new Writable({
      objectMode: true,
      highWaterMark: 1,
      write(_chunk, _encoding, callback) {
        consumed++;
        if (consumed === 10) stalled.then(() => callback());
        else if (consumed >= 60_000) source.destroy();
        else callback();
      },
    });
    const done = pipeline(source, parser, validator, sink).catch(() => undefined);
    await settled(() => `${id} ${consumed}`);
    t.equal(consumed, 10, `${linesPerChunk} lines a chunk: the pipeline waits on the stalled consumer`);
    t.ok(parser.readableLength <= parser.readableHighWaterMark, `${linesPerChunk} lines a chunk: parser queues ${parser.readableLength}`);
    t.ok(parser.writableLength <= parser.writableHighWaterMark, `${linesPerChunk} lines a chunk: ${parser.writableLength} chunks wait to be split`);
    t.ok(validator.readableLength + validator.writableLength <= 200, `${linesPerChunk} lines a chunk: the validator holds ${validator.readableLength + validator.writableLength}`);
    const made = id;
    for (let i = 0; i < 10; i++) await turn();
    t.equal(id, made, `${linesPerChunk} lines a chunk: no further reads while stalled`);
    release();
    await done;
    t.ok(consumed >= 60_000, 'moves on once the consumer does');
  }
});
