/**
 * Preloaded with `node --import` into a CLI run by the benchmarks, so that the
 * CLI's own entry module starts the process exactly as bin/batchline.js would
 * (nothing of the benchmark loaded before its start-up code). On exit it
 * writes {seconds, maxRssMB, exitCode} to the file named by BENCH_RESULT.
 */
import { writeFileSync } from 'node:fs';
import { peakRssMB } from './peak-rss.ts';

const started = performance.now();
process.on('exit', (exitCode) => {
  const seconds = (performance.now() - started) / 1000;
  writeFileSync(process.env.BENCH_RESULT as string, JSON.stringify({ seconds, maxRssMB: peakRssMB(), exitCode }));
});
