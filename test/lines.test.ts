import t from 'tap';
import { LimitError } from '../src/index.ts';
import { LineSplitter } from '../src/core/line-splitter.ts';

function split(input: Buffer, chunkSize: number, max = 1000): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  const splitter = new LineSplitter(max, (bytes, line) => out.push([line, bytes.toString('utf8')]));
  for (let i = 0; i < input.length; i += chunkSize) splitter.push(input.subarray(i, i + chunkSize));
  splitter.end();
  return out;
}

t.test('splits the same way at every chunk size, across split UTF-8, CRLF, BOM and blank lines', async (t) => {
  const text = '\uFEFF{"a":"é"}\r\n\n  \n{"b":"日本語🙂"}\n{"c":1}';
  const input = Buffer.from(text, 'utf8');
  const expected = split(input, input.length);
  t.same(expected, [
    [1, '{"a":"é"}'],
    [2, ''],
    [3, '  '],
    [4, '{"b":"日本語🙂"}'],
    [5, '{"c":1}'],
  ]);
  for (const size of [1, 2, 3, 7, 64, 65536]) t.same(split(input, size), expected, `chunk size ${size}`);
});

t.test('refuses a line longer than the cap with its line number, before buffering it whole', async (t) => {
  const input = Buffer.from('{"a":1}\n' + 'x'.repeat(50) + '\n');
  for (const size of [1, 7, 1000]) {
    t.throws(() => split(input, size, 20), { code: 'LINE_TOO_LARGE', line: 2 });
  }
  t.throws(() => split(input, 3, 20), LimitError, 'a LimitError');
  t.throws(() => split(input, 3, 20), { name: 'LimitError', code: 'LINE_TOO_LARGE', line: 2 });
  t.same(split(Buffer.from('12345\r\n'), 2, 5), [[1, '12345']], 'the CR of a CRLF does not count');
  t.throws(() => split(Buffer.from('123456'), 2, 5), { code: 'LINE_TOO_LARGE', line: 1 });
});

t.test('a UTF-8 BOM does not count against maxLineBytes, at every chunk size', async (t) => {
  const line = '{"a":"' + 'x'.repeat(10) + '"}';
  const max = Buffer.byteLength(line);
  const inputs: Array<[string, string, Array<[number, string]>]> = [
    ['LF', `\uFEFF${line}\n${line}\n`, [[1, line], [2, line]]],
    ['CRLF', `\uFEFF${line}\r\n${line}\r\n`, [[1, line], [2, line]]],
    ['no line break', `\uFEFF${line}`, [[1, line]]],
  ];
  for (const [name, text, expected] of inputs) {
    for (const size of [1, 2, 3, 4, 5, 7, max, max + 1, max + 3, max + 4, 64, 65536]) {
      t.same(split(Buffer.from(text), size, max), expected, `BOM + exactly max, ${name}, chunk size ${size}`);
    }
  }
  // One byte more is still refused, with or without a BOM, and the BOM allowance is for line 1 only.
  for (const size of [1, 3, 7, 65536]) {
    t.throws(() => split(Buffer.from(`\uFEFF${line}x\n`), size, max), { code: 'LINE_TOO_LARGE', line: 1 }, `BOM + max + 1, chunk size ${size}`);
    t.throws(() => split(Buffer.from(`${line}\n${line}xyz\n`), size, max), { code: 'LINE_TOO_LARGE', line: 2 }, `line 2, chunk size ${size}`);
  }
});

t.test('pause() from onLine stops after that line; resume() goes on with the rest of the chunk', async (t) => {
  const out: Array<[number, string]> = [];
  let pauseAt = new Set([2, 3, 5]);
  const splitter = new LineSplitter(100, (bytes, line) => {
    out.push([line, bytes.toString('utf8')]);
    if (pauseAt.has(line)) splitter.pause();
  });
  t.equal(splitter.push(Buffer.from('a\nb\nc\nd')), false, 'stopped after line 2');
  t.same(out.map(([line]) => line), [1, 2]);
  t.equal(splitter.resume(), false, 'stopped after line 3');
  t.equal(splitter.resume(), true, 'the rest, up to the partial line, is used up');
  t.equal(splitter.resume(), true, 'nothing held');
  t.equal(splitter.push(Buffer.from('d\ne\nf\n')), false, 'the carried line completes and line 5 pauses');
  t.equal(splitter.resume(), true);
  splitter.end();
  t.same(out, [
    [1, 'a'],
    [2, 'b'],
    [3, 'c'],
    [4, 'dd'],
    [5, 'e'],
    [6, 'f'],
  ]);
  // A pause on the last line of a chunk holds nothing, but still says the caller asked to stop.
  pauseAt = new Set([7]);
  t.equal(splitter.push(Buffer.from('g\n')), false);
  t.equal(splitter.resume(), true, 'nothing held');
  t.equal(splitter.push(Buffer.from('h\n')), true, 'a new chunk is taken at once');
  t.same(out.slice(6), [
    [7, 'g'],
    [8, 'h'],
  ]);
});

t.test('refuses a new chunk while a paused one is held, rather than reorder lines', async (t) => {
  const seen: string[] = [];
  const splitter: LineSplitter = new LineSplitter(100, (bytes) => {
    seen.push(bytes.toString());
    if (seen.length === 1) splitter.pause();
  });
  t.equal(splitter.push(Buffer.from('a\nb\nc\n')), false, 'paused after the first line');
  t.throws(() => splitter.push(Buffer.from('d\n')), { code: 'SPLITTER_PAUSED' });
  t.equal(splitter.resume(), true);
  t.equal(splitter.push(Buffer.from('d\n')), true);
  t.same(seen, ['a', 'b', 'c', 'd']);
});
