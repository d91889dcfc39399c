/** The batch engine's options, checked in one place: each bad value an INVALID_OPTION naming it. */
import { OptionError } from '../../errors.ts';

/** How long a batch runs when no duration is given: long enough to watch, short enough for a demo. */
export const DEFAULT_BATCH_DURATION_MS = 2000;

export interface EngineSettings {
  /** How long a batch takes from creation to completed, in emulator milliseconds; default 2000. */
  batchDurationMs?: number;
  /** Share of requests answered with a 4xx in the error file, 0…1; default 0. */
  errorRate?: number;
  /** Enqueued input tokens allowed per model; default unlimited. */
  tokenLimit?: number;
  seed?: number;
}

export interface NormalizedEngineSettings {
  durationMs: number;
  errorRate: number;
  tokenLimit: number;
  seed: number;
}

export function normalizeEngineSettings(options: EngineSettings): NormalizedEngineSettings {
  const durationMs = options.batchDurationMs ?? DEFAULT_BATCH_DURATION_MS;
  if (!Number.isFinite(durationMs) || durationMs < 0) throw new OptionError('INVALID_OPTION', `batchDurationMs must be a number ≥ 0, got ${durationMs}`);
  const errorRate = options.errorRate ?? 0;
  if (!(errorRate >= 0 && errorRate <= 1)) throw new OptionError('INVALID_OPTION', `errorRate must be between 0 and 1, got ${errorRate}`);
  const tokenLimit = options.tokenLimit ?? Number.POSITIVE_INFINITY;
  if (!(tokenLimit > 0)) throw new OptionError('INVALID_OPTION', `tokenLimit must be a positive number, got ${tokenLimit}`);
  return { durationMs, errorRate, tokenLimit, seed: (options.seed ?? 1) >>> 0 };
}
