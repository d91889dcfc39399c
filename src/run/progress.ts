/**
 * The run's live counts, kept from the steps it records and from the
 * upload and poll events in between, handed to `onProgress` as RunProgress
 * snapshots (at most every 100 ms, and always on a phase change).
 */
import type { RunPhase, RunProgress, UnitState as UnitStateName } from '../core/run-progress.ts';
import { unitPhase, type RunState } from '../core/run-state.ts';

export class ProgressTracker {
  readonly #runId: string;
  readonly #started = performance.now();
  readonly #onProgress: ((progress: RunProgress) => void) | undefined;
  readonly #state: RunState;
  #phase: RunPhase = 'ingest';
  #requestsTotal: number | null = null;
  /** Bytes sent per unit (upload events), and request counts per unit (poll events). */
  readonly #sent = new Map<number, number>();
  readonly #counts = new Map<number, { total: number; completed: number; failed: number }>();
  /** Live states the steps do not show (uploading, queued for tokens, the batch's status between polls). */
  readonly #live = new Map<number, UnitStateName>();

  constructor(runId: string, state: RunState, onProgress: ((progress: RunProgress) => void) | undefined) {
    this.#runId = runId;
    this.#state = state;
    this.#onProgress = onProgress;
  }

  phase(phase: RunPhase): void {
    this.#phase = phase;
    this.emit(true);
  }

  requestsTotal(total: number): void {
    this.#requestsTotal = total;
  }

  sent(unit: number, bytes: number): void {
    this.#sent.set(unit, bytes);
    this.emit();
  }

  live(unit: number, state: UnitStateName | null): void {
    if (state === null) this.#live.delete(unit);
    else this.#live.set(unit, state);
    this.emit();
  }

  counts(unit: number, counts: { total: number; completed: number; failed: number }): void {
    this.#counts.set(unit, { ...counts });
    this.emit();
  }

  snapshot(): RunProgress {
    const batches: Partial<Record<UnitStateName, number>> = {};
    let sharded = 0;
    let shardedBytes = 0;
    let uploaded = 0;
    let followUps = 0;
    let retried = 0;
    const requestCounts = { total: 0, completed: 0, failed: 0 };
    for (const unit of this.#state.units.values()) {
      const { spec } = unit;
      if (spec.attempt === 1) sharded += spec.requests;
      else followUps++;
      retried += unit.retried;
      shardedBytes += spec.bytes;
      uploaded += unit.fileId ? spec.bytes : (this.#sent.get(spec.index) ?? 0);
      const phase = unitPhase(unit);
      const name: UnitStateName = phase === 'settled' || phase === 'downloaded' ? 'downloaded' : phase === 'submitted' ? (this.#live.get(spec.index) ?? 'submitted') : (this.#live.get(spec.index) ?? phase);
      batches[name] = (batches[name] ?? 0) + 1;
      const counts = unit.ended?.requestCounts ?? this.#counts.get(spec.index);
      if (counts) {
        requestCounts.total += counts.total;
        requestCounts.completed += counts.completed;
        requestCounts.failed += counts.failed;
      }
    }
    return {
      runId: this.#runId,
      phase: this.#phase,
      requests: { sharded, total: this.#requestsTotal ?? this.#state.ingested?.requests ?? null },
      bytes: { sharded: shardedBytes, uploaded },
      batches,
      requestCounts,
      followUps,
      retriedRequests: retried,
      elapsedMs: Math.round(performance.now() - this.#started),
    };
  }

  #lastEmit = -Infinity;

  /** Tells onProgress, at most every 100 ms unless `force`: upload and poll events come far more often than anyone reads. */
  emit(force = false): void {
    if (!this.#onProgress) return;
    const now = performance.now();
    if (!force && now - this.#lastEmit < 100) return;
    this.#lastEmit = now;
    this.#onProgress(this.snapshot());
  }
}
