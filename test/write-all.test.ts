import type { FileHandle } from 'node:fs/promises';
import t from 'tap';
import { writeAll } from '../src/io/write-all.ts';

/** A file handle that takes at most `max` bytes a call, as a nearly full disk or a signal can make it. */
function stingyHandle(max: number): { handle: FileHandle; written: () => string; calls: () => number } {
  let out = Buffer.alloc(0);
  let calls = 0;
  const take = (buffers: Buffer[]) => {
    calls++;
    const all = Buffer.concat(buffers);
    const n = Math.min(max, all.length);
    out = Buffer.concat([out, all.subarray(0, n)]);
    return { bytesWritten: n };
  };
  const handle = {
    write: async (buffer: Buffer) => take([buffer]),
    writev: async (buffers: Buffer[]) => take(buffers),
  } as unknown as FileHandle;
  return { handle, written: () => out.toString('utf8'), calls: () => calls };
}

t.test('writes every byte in order after short writes, one buffer or many', async (t) => {
  for (const buffers of [[Buffer.from('hello, wörld')], [Buffer.from('ab'), Buffer.from(''), Buffer.from('cdefg'), Buffer.from('h')]]) {
    const expected = Buffer.concat(buffers).toString('utf8');
    for (const max of [1, 2, 3, 100]) {
      const stingy = stingyHandle(max);
      await writeAll(stingy.handle, buffers);
      t.equal(stingy.written(), expected, `at most ${max} bytes a call`);
      if (max === 1) t.ok(stingy.calls() >= Buffer.byteLength(expected), 'one call per byte when the disk takes one');
    }
  }
});
