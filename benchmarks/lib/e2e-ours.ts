/**
 * batchline's side of e2e.bench.ts: runBatch from the request file to the
 * joined results, against the emulator at argv's URL:
 *   node e2e-ours.js <base-url> <api-key> <input> <output> <state-dir>
 * Prints one JSON line: seconds, peak RSS, and when each stage finished
 * (seconds from the start): the last shard written, the last upload, the
 * last batch ended, the last download settled, the join.
 */
import { setFlagsFromString } from 'node:v8';
import { peakRssMB } from './peak-rss.ts';

// As `batchline run` does (src/cli/entry.ts): V8's young generation kept at its starting size.
setFlagsFromString('--semi-space-growth-factor=1');
const { runBatch } = await import('../../src/pipeline.ts');
const { ApiClient } = await import('../../src/openai/client.ts');

const [baseURL, apiKey, input, output, stateDir] = process.argv.slice(2);
const started = performance.now();
const at = () => Number(((performance.now() - started) / 1000).toFixed(2));
const stages: Record<string, number> = {};
// BENCH_MEMORY_TRACE=1: the resident size and heap every second on stderr, with the run's phase.
let phase = 'start';
if (process.env.BENCH_MEMORY_TRACE) {
  setInterval(() => {
    const m = process.memoryUsage();
    process.stderr.write(`${at()} s ${phase}: rss ${(m.rss / 2 ** 20).toFixed(0)} MB, heap ${(m.heapUsed / 2 ** 20).toFixed(0)} MB, external ${(m.external / 2 ** 20).toFixed(0)} MB, buffers ${(m.arrayBuffers / 2 ** 20).toFixed(0)} MB\n`);
  }, 1000).unref();
}
const summary = await runBatch({
  input,
  output,
  stateDir,
  client: new ApiClient({ baseURL, apiKey }),
  poll: { initialDelayMs: 250, maxDelayMs: 1000, maxRequestsPerSecond: 50 },
  onProgress: (p) => {
    phase = p.phase;
    const units = Object.values(p.batches).reduce((a, b) => a + (b ?? 0), 0);
    if (p.phase !== 'ingest') stages.sharded ??= at();
    if (p.phase !== 'ingest' && p.bytes.uploaded === p.bytes.sharded) stages.uploaded ??= at();
    if (p.phase === 'joining') stages.downloaded ??= at();
    void units;
  },
});
stages.joined = at();
process.stdout.write(
  `${JSON.stringify({ seconds: at(), maxRssMB: peakRssMB(), requests: summary.requests, succeeded: summary.counts.succeeded, batches: summary.batches.length, stages })}\n`,
);
