import type { FileHandle } from 'node:fs/promises';
import t from 'tap';
import { WriteBehind } from '../src/io/write-behind.ts';

/**
 * A file handle whose writes finish only when the test says so, taking at
 * most `max` bytes a call; it fails the call after `failAfter` calls.
 */
function slowHandle(max = Infinity, failAfter = Infinity, failSync = false) {
  let out = Buffer.alloc(0);
  const calls: number[] = [];
  /** The bytes written when each datasync began. */
  const syncs: number[] = [];
  const waiting: Array<() => void> = [];
  const take = (buffers: Buffer[]) =>
    new Promise<{ bytesWritten: number }>((resolve, reject) => {
      waiting.push(() => {
        if (calls.length >= failAfter) return reject(Object.assign(new Error('no space left'), { code: 'ENOSPC' }));
        const all = Buffer.concat(buffers);
        const n = Math.min(max, all.length);
        calls.push(buffers.length);
        out = Buffer.concat([out, all.subarray(0, n)]);
        resolve({ bytesWritten: n });
      });
    });
  const handle = {
    write: async (buffer: Buffer) => take([buffer]),
    writev: async (buffers: Buffer[]) => take(buffers),
    datasync: async () => {
      syncs.push(out.length);
      if (failSync) throw Object.assign(new Error('i/o error'), { code: 'EIO' });
    },
  } as unknown as FileHandle;
  return {
    handle,
    calls,
    syncs,
    written: () => out.toString('utf8'),
    pending: () => waiting.length,
    /** Finishes every write waiting now. */
    release: () => waiting.splice(0).forEach((finish) => finish()),
  };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

t.test('writes in order, one write in flight, gathering what comes meanwhile into one writev', async (t) => {
  const disk = slowHandle();
  const writer = new WriteBehind(disk.handle, { maxPendingBytes: 100 });
  await writer.write([Buffer.from('a')]);
  await writer.write([Buffer.from('b'), Buffer.from('c')]);
  await writer.write([Buffer.from(''), Buffer.from('d')]);
  t.equal(disk.pending(), 1, 'one write in flight; the rest wait behind it');
  const flushed = writer.flush();
  while (disk.pending() > 0) {
    disk.release();
    await settled();
  }
  await flushed;
  t.equal(disk.written(), 'abcd');
  t.same(disk.calls, [1, 3], 'the first buffer alone, then the three that came while it was written');
  t.equal(writer.written, 4);
});

t.test('write waits only while more than maxPendingBytes wait; short writes are completed', async (t) => {
  const disk = slowHandle(3);
  const writer = new WriteBehind(disk.handle, { maxPendingBytes: 8 });
  await writer.write([Buffer.from('0123')]);
  await writer.write([Buffer.from('4567')]);
  let done = false;
  const third = writer.write([Buffer.from('89abcdef')]).then(() => (done = true));
  await settled();
  t.notOk(done, 'twelve bytes queued over a cap of eight: the writer waits');
  while (!done) {
    disk.release();
    await settled();
  }
  await third;
  const flushed = writer.flush();
  while (disk.pending() > 0 || writer.written < 16) {
    disk.release();
    await settled();
  }
  await flushed;
  t.equal(disk.written(), '0123456789abcdef', 'every byte, in order, three at a time');
});

t.test('a failed write is thrown by the next write or flush; settle waits and never throws', async (t) => {
  const disk = slowHandle(Infinity, 1);
  const writer = new WriteBehind(disk.handle, { maxPendingBytes: 4 });
  await writer.write([Buffer.from('ok')]);
  disk.release();
  await settled();
  await writer.write([Buffer.from('lost')]);
  disk.release();
  await settled();
  await t.rejects(writer.write([Buffer.from('more')]), { code: 'ENOSPC' });
  await t.rejects(writer.flush(), { code: 'ENOSPC' });
  await writer.settle();
  t.equal(disk.written(), 'ok');

  const busy = slowHandle();
  const other = new WriteBehind(busy.handle);
  await other.write([Buffer.from('x')]);
  await other.write([Buffer.from('y')]);
  let settledYet = false;
  const waiting = other.settle().then(() => (settledYet = true));
  await settled();
  t.notOk(settledYet, 'settle waits for the write in flight');
  busy.release();
  await waiting;
  t.equal(busy.written(), 'x', 'what was still queued is dropped');
  t.equal(busy.pending(), 0);
});

t.test('with syncEveryBytes, a datasync starts as each threshold is passed; flush waits for it and throws its failure', async (t) => {
  const disk = slowHandle();
  const writer = new WriteBehind(disk.handle, { maxPendingBytes: 100, syncEveryBytes: 4 });
  for (const text of ['ab', 'cd', 'ef', 'gh', 'ij']) {
    await writer.write([Buffer.from(text)]);
    disk.release();
    await settled();
  }
  await writer.flush();
  t.equal(disk.written(), 'abcdefghij');
  t.same(disk.syncs, [4, 8], 'one sync after 4 bytes, the next after 4 more');
  const none = slowHandle();
  const plain = new WriteBehind(none.handle);
  await plain.write([Buffer.from('x'.repeat(64))]);
  none.release();
  await plain.flush();
  t.same(none.syncs, [], 'no sync unless asked');
  const failing = slowHandle(Infinity, Infinity, true);
  const broken = new WriteBehind(failing.handle, { syncEveryBytes: 1 });
  await broken.write([Buffer.from('a')]);
  failing.release();
  await t.rejects(broken.flush(), { code: 'EIO' });
  await t.rejects(broken.write([Buffer.from('b')]), { code: 'EIO' });
});
