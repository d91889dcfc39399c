/** The batch engine's options, checked in one place: each bad value an INVALID_OPTION naming it. */
import { invalidOption } from '../../errors.ts';
import { normalizeBatchFaults, type BatchFault, type BatchFaultKind } from './batch-faults.ts';

/** How long a batch runs when no duration is given: long enough to watch, short enough for a demo. */
export const DEFAULT_BATCH_DURATION_MS = 2000;
/** The window of `batchCreationLimit` when none is given: the service counts batch creations per hour. */
export const DEFAULT_CREATION_WINDOW_MS = 3_600_000;

export interface BatchCreationLimit {
  /** Batches that may be created within one window; one more is a 429 with Retry-After. */
  creations: number;
  /** The sliding window, in emulator milliseconds (default one hour). */
  windowMs?: number;
}

export interface EngineSettings {
  /** How long a batch takes from creation to completed, in emulator milliseconds; default 2000. */
  batchDurationMs?: number;
  /**
   * How long a cancelled batch stays `cancelling` before it is `cancelled`, in
   * emulator milliseconds; default half the batch duration. The live service
   * takes minutes, so a retried cancel usually meets `cancelling`.
   */
  cancelDurationMs?: number;
  /** Share of custom_ids answered with a 400 in the error file, in every batch they are sent in, 0…1; default 0. */
  errorRate?: number;
  /**
   * Share of requests answered with a 500 `server_error` in the error file,
   * 0…1; default 0. Drawn per batch, so a request that failed this way may
   * succeed when sent again in a new batch.
   */
  transientErrorRate?: number;
  /** Enqueued input tokens allowed per model; default unlimited. */
  tokenLimit?: number;
  /** Batch creations allowed per window (the live service allows about 2,000 an hour); default unlimited. */
  batchCreationLimit?: BatchCreationLimit;
  /** Faults of whole batches by creation order: `[{batch: 3, kind: 'expire'}]` expires the third batch created. */
  batchFaults?: readonly BatchFault[];
  seed?: number;
}

export interface NormalizedEngineSettings {
  durationMs: number;
  cancelDurationMs: number;
  errorRate: number;
  transientErrorRate: number;
  tokenLimit: number;
  creationLimit: Required<BatchCreationLimit> | null;
  /** The fault of each batch that has one, by its creation order (1-based). */
  batchFaults: ReadonlyMap<number, BatchFaultKind>;
  seed: number;
}

export function normalizeEngineSettings(options: EngineSettings): NormalizedEngineSettings {
  const durationMs = options.batchDurationMs ?? DEFAULT_BATCH_DURATION_MS;
  if (!Number.isFinite(durationMs) || durationMs < 0) throw invalidOption('batchDurationMs', `batchDurationMs must be a number ≥ 0, got ${durationMs}`);
  const cancelDurationMs = options.cancelDurationMs ?? durationMs / 2;
  if (!Number.isFinite(cancelDurationMs) || cancelDurationMs < 0) {
    throw invalidOption('cancelDurationMs', `cancelDurationMs must be a number ≥ 0, got ${cancelDurationMs}`);
  }
  const errorRate = options.errorRate ?? 0;
  if (!(errorRate >= 0 && errorRate <= 1)) throw invalidOption('errorRate', `errorRate must be between 0 and 1, got ${errorRate}`);
  const transientErrorRate = options.transientErrorRate ?? 0;
  if (!(transientErrorRate >= 0 && transientErrorRate <= 1)) {
    throw invalidOption('transientErrorRate', `transientErrorRate must be between 0 and 1, got ${transientErrorRate}`);
  }
  const tokenLimit = options.tokenLimit ?? Number.POSITIVE_INFINITY;
  if (!(tokenLimit > 0)) throw invalidOption('tokenLimit', `tokenLimit must be a positive number, got ${tokenLimit}`);
  return {
    durationMs,
    cancelDurationMs,
    errorRate,
    transientErrorRate,
    tokenLimit,
    creationLimit: creationLimit(options.batchCreationLimit),
    batchFaults: normalizeBatchFaults(options.batchFaults),
    seed: (options.seed ?? 1) >>> 0,
  };
}

function creationLimit(limit: BatchCreationLimit | undefined): Required<BatchCreationLimit> | null {
  if (limit === undefined) return null;
  const { creations, windowMs = DEFAULT_CREATION_WINDOW_MS } = limit;
  if (!Number.isSafeInteger(creations) || creations < 1) {
    throw invalidOption('batchCreationLimit.creations', `batchCreationLimit.creations must be a whole number ≥ 1, got ${JSON.stringify(creations)}`);
  }
  if (!Number.isFinite(windowMs) || windowMs <= 0) {
    throw invalidOption('batchCreationLimit.windowMs', `batchCreationLimit.windowMs must be a number > 0, got ${JSON.stringify(windowMs)}`);
  }
  return { creations, windowMs };
}
