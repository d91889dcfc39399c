import t from 'tap';
import { LineParser } from '../src/core/line-parser.ts';
import { DecodedLine, ObjectLine } from '../src/core/parsed-line.ts';
import type { ParsedLine } from '../src/types.ts';

const text = Array.from({ length: 40 }, (_, i) => (i % 9 === 4 ? 'not json' : i % 7 === 2 ? '  ' : `{"n":${i},"s":"é🙂"}`)).join('\r\n');
const input = Buffer.from(`\uFEFF${text}`, 'utf8');

/** Feeds `input` in chunks of `size` bytes, read into one reused buffer, to a reader that takes `room` lines at a time. */
function run(size: number, room: number) {
  const out: Array<[number, unknown, string]> = [];
  let free = room;
  let stops = 0;
  const parser = new LineParser({ onInvalid: 'skip' }, (line) => {
    out.push([line.line, line.value, (line as DecodedLine).text]);
    return --free > 0;
  });
  const chunk = Buffer.alloc(size);
  for (let at = 0; at < input.length; at += size) {
    const n = input.copy(chunk, 0, at, at + size);
    let done = parser.bytes(chunk.subarray(0, n));
    while (!done) {
      stops++;
      free = room;
      done = parser.resume();
    }
    // Read into again: a line that kept a view of the chunk would change.
    chunk.fill(0x3f);
  }
  parser.end();
  return { out, stops, stats: parser.stats };
}

t.test('stops after the line its reader refuses and goes on with the rest on resume, at every chunk size', async (t) => {
  const whole = run(input.length, Infinity);
  t.equal(whole.stops, 0);
  t.equal(whole.out.length, 30);
  t.same(whole.out[0], [1, { n: 0, s: 'é🙂' }, '{"n":0,"s":"é🙂"}'], 'the BOM and the CR are not part of the line');
  for (const size of [1, 2, 3, 7, 64, input.length]) {
    for (const room of [1, 2, 5]) {
      const { out, stops } = run(size, room);
      t.same(out, whole.out, `chunk size ${size}, room for ${room}`);
      t.ok(stops >= Math.floor(30 / room) - 1, `chunk size ${size}, room for ${room}: stopped ${stops} times`);
    }
  }
});

t.test('counts lines, blank lines, values, skipped lines and bytes', async (t) => {
  const { stats } = run(7, 3);
  t.match(stats, { lines: 40, blank: 6, values: 30, skipped: 4, bytes: input.length });
  t.same(
    stats.skippedErrors.map((e) => e.line),
    [5, 14, 23, 32],
  );
  t.ok(stats.skippedErrors.every((e) => e.code === 'INVALID_JSON'));
});

t.test('a bad line fails with INVALID_JSON and its line unless skipped', async (t) => {
  const parser = new LineParser({}, () => true);
  t.throws(() => parser.bytes(Buffer.from('{"a":1}\n\n{"b":\n')), { code: 'INVALID_JSON', line: 3, name: 'ParseError' });
  t.throws(() => new LineParser({ maxLineBytes: 0 }, () => true), { code: 'INVALID_OPTION' });
  t.throws(() => new LineParser({ onInvalid: 'ignore' as never }, () => true), { code: 'INVALID_OPTION' });
});

t.test('objects are numbered by position, stop like lines do, and do not mix with bytes', async (t) => {
  const seen: ParsedLine[] = [];
  const parser = new LineParser({}, (line) => seen.push(line) < 2);
  t.equal(parser.object({ a: 1 }), true);
  t.equal(parser.object(null), false, 'the reader is full after the second');
  t.equal(parser.resume(), true, 'nothing is held for an object');
  t.ok(seen.every((line) => line instanceof ObjectLine));
  t.same(
    seen.map((line) => [line.line, line.value]),
    [
      [1, { a: 1 }],
      [2, null],
    ],
  );
  t.throws(() => parser.bytes(Buffer.from('{}\n')), { code: 'MIXED_INPUT', line: 3 });
  t.match(parser.stats, { lines: 2, values: 2, bytes: 0 });
  const bytesFirst = new LineParser({}, () => true);
  bytesFirst.bytes(Buffer.from('{}\n{}\n'));
  t.throws(() => bytesFirst.object({}), { code: 'MIXED_INPUT', line: 3 });
});

t.test('refuses a new chunk while it holds the rest of one', async (t) => {
  const parser = new LineParser({}, () => false);
  t.equal(parser.bytes(Buffer.from('{"a":1}\n{"b":2}\n')), false);
  t.throws(() => parser.bytes(Buffer.from('{"c":3}\n')), { code: 'SPLITTER_PAUSED' });
  t.equal(parser.resume(), false, 'line 2 is taken, and the reader is full again');
  t.equal(parser.resume(), true);
  t.equal(parser.bytes(Buffer.from('{"c":3}\n')), false);
  t.equal(parser.stats.values, 3);
});
