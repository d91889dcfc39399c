import t from 'tap';
import fc from 'fast-check';
import { joinResults } from '../src/streams/join.ts';
import type { ResultStatus } from '../src/types.ts';
import { chunked, collect, leftovers, request, resultFor, scratch } from './helpers/join-fixtures.ts';
import { seededRandom } from '../src/core/seeded-random.ts';

const STATUSES: ResultStatus[] = ['succeeded', 'failed', 'rejected', 'expired', 'cancelled', 'missing'];


/** JSON with every non-ASCII character written as a \u escape: the same value, other bytes. */
function escapedJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

t.test('for random inputs, shuffles and splits, the join is the input order with each request once', async (t) => {
  const dir = scratch(t);
  const requests = fc.uniqueArray(
    fc.record({ id: fc.string({ unit: 'binary', maxLength: 10 }), status: fc.constantFrom(...STATUSES) }),
    { selector: (r) => r.id, maxLength: 60 },
  );
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(requests, fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 4 }), async (reqs, seed, files) => {
      // Seeded, so that a failing case replays exactly.
      const next = seededRandom(seed);
      const inputLines: string[] = [];
      const lineOf = new Map<string, number>();
      for (const r of reqs) {
        if (next() < 0.1) inputLines.push('');
        inputLines.push(next() < 0.5 ? request(r.id) : escapedJson(JSON.parse(request(r.id))));
        lineOf.set(r.id, inputLines.length);
      }
      const resultLines = reqs
        .filter((r) => r.status !== 'missing')
        .map((r) => (next() < 0.5 ? JSON.stringify : escapedJson)(resultFor(r.id, r.status as Exclude<ResultStatus, 'missing'>)));
      for (let i = resultLines.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [resultLines[i], resultLines[j]] = [resultLines[j], resultLines[i]];
      }
      const split: string[][] = Array.from({ length: files }, () => []);
      for (const line of resultLines) split[Math.floor(next() * files)].push(line);
      const size = 1 + Math.floor(next() * 40);
      const join = joinResults({
        input: chunked(inputLines.join(next() < 0.5 ? '\n' : '\r\n'), size),
        results: split.map((lines) => chunked(lines.join('\n'), size + 3)),
        partitionRequests: 1 + Math.floor(next() * 8),
        maxPartitionBytes: 1024 + Math.floor(next() * 2048),
        tempDir: dir.dir,
      });
      const joined = await collect(join);
      runs++;
      t.same(joined.map((r) => r.custom_id), reqs.map((r) => r.id));
      t.same(joined.map((r) => r.status), reqs.map((r) => r.status));
      t.same(joined.map((r) => r.line), reqs.map((r) => lineOf.get(r.id)));
      t.equal(join.stats.resultLines, resultLines.length);
    }),
    { numRuns: 60 },
  );
  t.equal(runs, 60);
  t.same(leftovers(dir.dir), []);
});
