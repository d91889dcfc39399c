import t from 'tap';
import { backoffDelayMs, MAX_POLL_AFTER_MS, nextPollDelayMs, normalizePollSchedule, pollAfterFromHeader } from '../src/core/poll-schedule.ts';
import { TokenBucket } from '../src/core/token-bucket.ts';
import { buildBatchMetadata, checkMetadataFilter, checkRunId, checkUserMetadata, metadataMatches, tagMetadata } from '../src/core/batch-tags.ts';
import { WholeLines } from '../src/core/whole-lines.ts';

t.test('poll schedule: grows by the multiplier from the first wait to the cap', async (t) => {
  const schedule = normalizePollSchedule({});
  t.same([1, 2, 3, 4].map((n) => backoffDelayMs(schedule, n)), [1000, 1500, 2250, 3375]);
  t.equal(backoffDelayMs(schedule, 100), 60_000);
  t.equal(backoffDelayMs(schedule, 1e9), 60_000, 'no overflow on a very long watch');
  const doubling = normalizePollSchedule({ initialDelayMs: 20, maxDelayMs: 100, multiplier: 2 });
  t.same([1, 2, 3, 4, 5].map((n) => backoffDelayMs(doubling, n)), [20, 40, 80, 100, 100]);
  const fixed = normalizePollSchedule({ initialDelayMs: 50, maxDelayMs: 50, multiplier: 1 });
  t.same([1, 7].map((n) => backoffDelayMs(fixed, n)), [50, 50]);
});

t.test("poll schedule: the server's hint wins when honoured, capped at an hour", async (t) => {
  const schedule = normalizePollSchedule({ initialDelayMs: 20, maxDelayMs: 100 });
  t.equal(nextPollDelayMs(schedule, 1, 750), 750);
  t.equal(nextPollDelayMs(schedule, 1, undefined), 20);
  t.equal(nextPollDelayMs(schedule, 1, 10 * MAX_POLL_AFTER_MS), MAX_POLL_AFTER_MS);
  t.equal(nextPollDelayMs({ ...schedule, usePollAfter: false }, 3, 750), 45, 'ignored when turned off');
  t.equal(pollAfterFromHeader('200'), 200);
  t.equal(pollAfterFromHeader('12.2'), 13);
  t.same([null, undefined, '', ' ', '-5', 'soon'].map(pollAfterFromHeader), [undefined, undefined, undefined, undefined, undefined, undefined]);
});

t.test('poll schedule: bad options name themselves', async (t) => {
  t.throws(() => normalizePollSchedule({ initialDelayMs: -1 }), { code: 'INVALID_OPTION', message: /initialDelayMs/ });
  t.throws(() => normalizePollSchedule({ initialDelayMs: 500, maxDelayMs: 100 }), { code: 'INVALID_OPTION', message: /maxDelayMs/ });
  t.throws(() => normalizePollSchedule({ multiplier: 0.5 }), { code: 'INVALID_OPTION', message: /multiplier/ });
  t.throws(() => normalizePollSchedule({ usePollAfter: 'yes' as never }), { code: 'INVALID_OPTION', message: /usePollAfter/ });
  t.equal(normalizePollSchedule({ initialDelayMs: 90_000 }).maxDelayMs, 90_000, 'the cap follows a first wait above it');
});

t.test('token bucket: a burst goes at once, then requests queue at the rate', async (t) => {
  const bucket = new TokenBucket(10, 2, 0);
  t.same([bucket.reserve(0), bucket.reserve(0), bucket.reserve(0), bucket.reserve(0)], [0, 0, 100, 200]);
  t.equal(bucket.reserve(1000), 0, 'refilled after a second');
  t.ok(bucket.available(1000) <= 2, 'never more than the burst');
  const slow = new TokenBucket(0.5, 1, 0);
  t.same([slow.reserve(0), slow.reserve(0)], [0, 2000]);
  slow.refund(0);
  t.equal(slow.reserve(0), 2000, 'a refunded token is reserved again');
  t.throws(() => new TokenBucket(0, 1, 0), { code: 'INVALID_OPTION', message: /maxRequestsPerSecond/ });
  t.throws(() => new TokenBucket(Number.POSITIVE_INFINITY, 1, 0), { code: 'INVALID_OPTION' });
  t.throws(() => new TokenBucket(1, 0, 0), { code: 'INVALID_OPTION', message: /requestBurst/ });
});

t.test('batch tags: run, shard and a sha256 prefix, or the file id', async (t) => {
  const sha = 'ABCDEF0123456789'.repeat(4);
  t.same(tagMetadata({ runId: 'run_1', shard: 3, sha256: sha }), { batchline_run: 'run_1', batchline_shard: '3', batchline_sha256: 'abcdef0123456789' });
  t.same(tagMetadata({ runId: 'run_1', fileId: 'file-x' }), { batchline_run: 'run_1', batchline_file: 'file-x' });
  t.same(buildBatchMetadata({ team: 'search' }, { runId: 'r', shard: 0 }), { team: 'search', batchline_run: 'r', batchline_shard: '0' });
  t.equal(checkRunId('run_lx2.a:b-c'), 'run_lx2.a:b-c');
  for (const bad of ['', '-x', 'a b', 'x'.repeat(65), 7]) t.throws(() => checkRunId(bad), { code: 'INVALID_OPTION' }, JSON.stringify(bad));
});

t.test('batch tags: metadata is checked against the API limits before any request', async (t) => {
  const thirteen = Object.fromEntries(Array.from({ length: 13 }, (_, i) => [`k${i}`, 'v']));
  t.same(checkUserMetadata(thirteen, 3), thirteen, '13 pairs fit beside 3 tags');
  t.throws(() => checkUserMetadata({ ...thirteen, k13: 'v' }, 3), { code: 'INVALID_METADATA', message: /14 pairs; at most 13/ });
  t.throws(() => checkUserMetadata({ ['k'.repeat(65)]: 'v' }), { code: 'INVALID_METADATA', message: /1-64 characters/ });
  t.throws(() => checkUserMetadata({ '': 'v' }), { code: 'INVALID_METADATA' });
  t.throws(() => checkUserMetadata({ k: 'v'.repeat(513) }), { code: 'INVALID_METADATA', message: /513 characters; the limit is 512/ });
  t.throws(() => checkUserMetadata({ k: 5 }), { code: 'INVALID_METADATA', message: /must be a string/ });
  t.throws(() => checkUserMetadata(['a']), { code: 'INVALID_METADATA' });
  t.throws(() => checkUserMetadata({ batchline_run: 'mine' }), { code: 'INVALID_METADATA', message: /reserved/ });
  t.same(checkUserMetadata(undefined), {});
  t.doesNotThrow(() => checkUserMetadata({ ['k'.repeat(64)]: 'v'.repeat(512) }));
  t.throws(() => buildBatchMetadata({ k: 'v' }, { runId: 'r', fileId: 'f'.repeat(513) }), { code: 'INVALID_METADATA' }, 'the tags are checked too');
});

t.test('batch tags: a filter matches every pair it names', async (t) => {
  const meta = { batchline_run: 'r', batchline_shard: '2', team: 'x' };
  t.ok(metadataMatches(meta, { batchline_run: 'r', batchline_shard: '2' }));
  t.notOk(metadataMatches(meta, { batchline_run: 'r', batchline_shard: '20' }));
  t.notOk(metadataMatches(null, { batchline_run: 'r' }));
  t.ok(metadataMatches(null, {}));
  t.same(checkMetadataFilter({ batchline_run: 'r' }), { batchline_run: 'r' }, 'our tags may be filtered on');
  t.throws(() => checkMetadataFilter({ k: 1 }), { code: 'INVALID_OPTION' });
  t.throws(() => checkMetadataFilter('k=v'), { code: 'INVALID_OPTION' });
});

t.test('whole lines: any chunking gives the same lines, each once, never cut', async (t) => {
  const text = Buffer.from('{"a":1}\n\n{"b":"é"}\r\n' + 'x'.repeat(40) + '\nlast');
  for (const size of [1, 2, 3, 7, 16, 1000]) {
    const lines = new WholeLines(100);
    const out: Buffer[] = [];
    for (let at = 0; at < text.length; at += size) {
      const whole = lines.push(text.subarray(at, at + size));
      if (whole) {
        const last = whole[whole.length - 1];
        t.equal(last[last.length - 1], 0x0a, `chunk ${size}: ends at a line break`);
        out.push(...whole);
      }
    }
    t.equal(lines.pendingBytes, 4);
    const rest = lines.flush();
    t.equal(Buffer.concat([...out, ...(rest ?? [])]).toString(), text.toString(), `chunk ${size}`);
    t.equal(lines.flush(), null);
  }
});

t.test('whole lines: a line without an end past the cap is LINE_TOO_LARGE; reset drops the carry', async (t) => {
  const lines = new WholeLines(10);
  lines.push(Buffer.from('12345'));
  t.throws(() => lines.push(Buffer.from('678901')), { code: 'LINE_TOO_LARGE' });
  const joined = new WholeLines(10);
  joined.push(Buffer.from('123456'));
  t.throws(() => joined.push(Buffer.from('78901\nok\n')), { code: 'LINE_TOO_LARGE' }, 'checked where a carried line ends, too');
  const again = new WholeLines(10);
  again.push(Buffer.from('half'));
  again.reset();
  t.same(again.push(Buffer.from('line\n'))?.map(String), ['line\n']);
});
