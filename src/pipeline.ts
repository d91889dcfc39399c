/**
 * `runBatch()`: the whole trip in one call — requests in, one result per
 * request out in input order — overlapped, resumable after a crash from the
 * state dir's journal, healing failed, expired, cancelled and missing
 * requests in follow-up batches. The engine is src/run/.
 */
export { runBatch, planRun } from './run/run.ts';
export { runStatus, cancelRun, type RunStatus, type CancelRunOptions, type CancelRunResult } from './run/control.ts';
export type { RunOptions, RunSink, LocalEmulatorOptions } from './run/options.ts';
export { DEFAULT_MAX_ATTEMPTS, DEFAULT_RUN_CONCURRENCY, DEFAULT_TOKEN_LIMIT_RETRY_MS } from './run/options.ts';
export type { RunSummary, RunBatchSummary, UsageTotals } from './run/summary.ts';
export type { DryRunSummary, DryRunShard } from './run/dry-run.ts';
export type { RunProgress, RunPhase } from './core/run-progress.ts';
export type { RunStore } from './run/store.ts';
export type { RunStep, RunHeader, UnitSpec } from './core/run-state.ts';
