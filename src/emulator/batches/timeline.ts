/**
 * Where a batch stands on its timeline, in emulator milliseconds, with no
 * timers and no I/O. With a batch duration D: validating for the first tenth
 * (or until the input check ends), in_progress for eight tenths with requests
 * finishing at an even pace in input order, finalizing for the last tenth.
 * A cancel stays `cancelling` for its own duration before it is `cancelled`.
 */
import type { BatchStatus } from '../../types.ts';
import type { BatchRecord } from '../store/batch-records.ts';

export const VALIDATING_SHARE = 0.1;
export const RUNNING_SHARE = 0.8;
export const FINALIZING_SHARE = 0.1;

/** How many of `total` requests are answered at `nowMs`; frozen once a cancel or expiry stopped the run. */
export function answeredAt(record: BatchRecord, status: BatchStatus, total: number, nowMs: number, durationMs: number): number {
  if (record.doneAtStop !== null) return record.doneAtStop;
  switch (status) {
    case 'in_progress': {
      const runMs = durationMs * RUNNING_SHARE;
      if (runMs <= 0 || record.runStartMs === null) return total;
      return Math.min(total, Math.floor((total * Math.max(0, nowMs - record.runStartMs)) / runMs));
    }
    case 'finalizing':
    case 'completed':
      return total;
    default:
      return 0;
  }
}
