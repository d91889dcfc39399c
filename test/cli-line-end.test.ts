// Where line N ends: what the summary of a run stopped at line N counts as read.
import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { fileLineEnd, StdinLineEnds } from '../src/cli/line-end.ts';

/** Lines of varied lengths, every fifth ending in CRLF, and the offset just past each line's end. */
function text(lines: number): { text: string; ends: number[] } {
  const parts: string[] = [];
  const ends: number[] = [];
  let bytes = 0;
  for (let i = 1; i <= lines; i++) {
    const part = 'x'.repeat(i % 97) + (i % 5 === 0 ? '\r\n' : '\n');
    parts.push(part);
    bytes += part.length;
    ends.push(bytes);
  }
  return { text: parts.join(''), ends };
}

t.test('fileLineEnd finds the end of any line, across read buffers, and the file size past the last', async (t) => {
  const dir = t.testdir();
  const { text: body, ends } = text(5000);
  await writeFile(`${dir}/in.jsonl`, body + 'tail without a newline');
  for (const line of [1, 2, 5, 99, 1000, 4999, 5000]) t.equal(await fileLineEnd(`${dir}/in.jsonl`, line), ends[line - 1], `line ${line}`);
  t.equal(await fileLineEnd(`${dir}/in.jsonl`, 5001), Buffer.byteLength(body) + 22, 'the last line, without its newline');
  await t.rejects(fileLineEnd(`${dir}/missing.jsonl`, 1), { code: 'ENOENT' });
});

t.test('StdinLineEnds passes the bytes on unchanged and finds line ends exactly in what it keeps', async (t) => {
  const { text: body, ends } = text(60_000);
  const bytes = Buffer.from(body);
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += 65_536) chunks.push(bytes.subarray(at, at + 65_536));
  const tap = new StdinLineEnds();
  const seen: Buffer[] = [];
  await pipeline(Readable.from(chunks), tap, new Writable({ write: (chunk, _e, cb) => (seen.push(chunk), cb()) }));
  t.ok(Buffer.concat(seen).equals(bytes), 'unchanged');
  t.ok(bytes.length > 2 * 1024 * 1024, `${bytes.length} bytes: more than it keeps`);
  // The last MiB is kept: exact there.
  for (const line of [60_000, 59_999, 59_000]) t.equal(tap.lineEnd(line), ends[line - 1], `line ${line}`);
  t.equal(tap.lineEnd(60_001), bytes.length, 'a line not ended yet: all read so far');
  // Earlier lines: the end of the chunk they ended in, never before the line's own end, never a chunk later.
  for (const line of [1, 700, 5000]) {
    const end = tap.lineEnd(line);
    t.ok(end >= ends[line - 1] && end - ends[line - 1] < 65_536 && end % 65_536 === 0, `line ${line}: ${end} for ${ends[line - 1]}`);
  }
});
