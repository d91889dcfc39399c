/**
 * What a whole run (runBatch) reports as it goes: one snapshot shape that a
 * progress bar, a plain log line or `batchline status --state-dir` can show.
 * Pure data; the pipeline fills it in, the CLI draws it.
 */
import type { BatchStatus } from '../types.ts';

export type RunPhase = 'ingest' | 'running' | 'joining' | 'done';

/** Where a batch of the run stands: the API's statuses, plus ours before the batch exists. */
/** `submitted`: the batch exists, its status not seen yet (a new batch, or `batchline status --state-dir` reading the journal alone). */
export type UnitState = 'sharded' | 'uploading' | 'uploaded' | 'queued' | 'submitting' | 'submitted' | BatchStatus | 'downloaded';

export interface RunProgress {
  runId: string;
  phase: RunPhase;
  /** Requests read and sharded so far; `total` is known once the input has been read to the end. */
  requests: { sharded: number; total: number | null };
  /** Shard bytes written and uploaded so far (follow-up batches included). */
  bytes: { sharded: number; uploaded: number };
  /** Batches of the run (first attempts and follow-ups) by where they stand. */
  batches: Partial<Record<UnitState, number>>;
  /** Summed over the run's batches: the API's `request_counts` as last seen. */
  requestCounts: { total: number; completed: number; failed: number };
  /** Follow-up batches made so far to retry failed, expired, cancelled or missing requests. */
  followUps: number;
  /** Requests sent again in follow-up batches. */
  retriedRequests: number;
  /** Milliseconds since this process started the run. */
  elapsedMs: number;
}
