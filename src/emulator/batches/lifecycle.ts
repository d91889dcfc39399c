/**
 * How one batch moves along its timeline, on the emulator clock. With a
 * duration D: validating for 0.1 D (or until the input check ends),
 * in_progress for 0.8 D with requests finishing at an even pace in input
 * order, finalizing for 0.1 D while the result files are written, then
 * completed. Cancel and expiry freeze the count of answered requests and
 * write partial results. Every status change is saved when a state
 * directory is in use.
 */
import { BatchlineError } from '../../errors.ts';
import type { RequestPlan } from '../answers/request-plan.ts';
import type { EmulatorClock } from '../clock.ts';
import type { BatchRecord, BatchStateDir } from '../store/batch-records.ts';
import type { FileStore } from '../store/file-store.ts';
import { PlanTotals, writeResultFiles } from './results.ts';
import { COMPLETION_WINDOW_SECONDS, TERMINAL_STATUSES } from './state.ts';
import { checkInputFile, type InputCheckResult } from './input-check.ts';
import type { BatchErrorItem, BatchObject } from '../../types.ts';

export interface LifecycleOptions {
  store: FileStore;
  clock: EmulatorClock;
  state: BatchStateDir | null;
  durationMs: number;
  errorRate: number;
  tokenLimit: number;
  seed: number;
}

/** What a batch holds only while it runs; rebuilt from the input file after a restart. */
interface Runtime {
  plans: RequestPlan[] | null;
  totals: PlanTotals | null;
  timer: NodeJS.Timeout | null;
  /** Emulator time at which validation is over: 0.1 D after creation, or later when the check took longer. */
  validatedAtMs: number | null;
  writing: boolean;
  written: boolean;
  waiters: Array<() => void>;
}

export class BatchLifecycle {
  readonly records = new Map<string, BatchRecord>();
  private readonly store: FileStore;
  private readonly clock: EmulatorClock;
  private readonly state: BatchStateDir | null;
  private readonly durationMs: number;
  private readonly errorRate: number;
  private readonly tokenLimit: number;
  private readonly seed: number;
  private readonly runtimes = new Map<string, Runtime>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly abort = new AbortController();
  private closed = false;
  private unexpected: unknown = null;
  private readonly onAdvance = (): void => {
    for (const record of this.records.values()) this.step(record);
  };

  constructor(options: LifecycleOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.state = options.state;
    this.durationMs = options.durationMs;
    this.errorRate = options.errorRate;
    this.tokenLimit = options.tokenLimit;
    this.seed = options.seed;
    this.clock.on('advance', this.onAdvance);
  }

  /** Stops the run where it is: answered requests stay answered, the rest end batch_cancelled. */
  beginCancel(record: BatchRecord): void {
    const { batch } = record;
    const nowMs = this.clock.now();
    record.doneAtStop = this.doneCount(record, nowMs);
    record.stopMs = nowMs;
    batch.status = 'cancelling';
    batch.cancelling_at = Math.floor(nowMs / 1000);
  }

  /** Resumes a batch restored from the state directory. */
  resume(record: BatchRecord): void {
    this.add(record);
    const { batch } = record;
    if (TERMINAL_STATUSES.has(batch.status)) return;
    // Result files already written before the stop only need the last status change.
    if (batch.output_file_id !== null || batch.error_file_id !== null) {
      this.runtime(record).written = true;
      this.step(record);
    } else {
      this.startCheck(record);
    }
  }

  add(record: BatchRecord): void {
    this.records.set(record.batch.id, record);
    this.runtimes.set(record.batch.id, newRuntime());
  }

  /** Stops timers and in-flight work, and waits until every state write has landed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock.off('advance', this.onAdvance);
    for (const runtime of this.runtimes.values()) {
      if (runtime.timer) clearTimeout(runtime.timer);
      runtime.timer = null;
    }
    this.abort.abort();
    for (const runtime of this.runtimes.values()) for (const wake of runtime.waiters.splice(0)) wake();
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    await this.state?.flush();
    if (this.unexpected) {
      throw new BatchlineError('EMULATOR_INTERNAL_ERROR', `the batch engine failed: ${(this.unexpected as Error).message}`, { cause: this.unexpected });
    }
  }

  private runtime(record: BatchRecord): Runtime {
    return this.runtimes.get(record.batch.id) as Runtime;
  }

  /** A copy of the batch with its live counts and usage. */
  snapshot(record: BatchRecord): BatchObject {
    const view = structuredClone(record.batch);
    const { totals, written } = this.runtime(record);
    if (!TERMINAL_STATUSES.has(view.status) && totals && !written) {
      const done = this.doneCount(record, this.clock.now());
      view.request_counts = totals.counts(done, false);
      view.usage = totals.usage(done);
    }
    return view;
  }

  doneCount(record: BatchRecord, nowMs: number): number {
    const totals = this.runtime(record).totals;
    if (!totals) return 0;
    if (record.doneAtStop !== null) return record.doneAtStop;
    switch (record.batch.status) {
      case 'in_progress': {
        const runMs = this.durationMs * 0.8;
        if (runMs <= 0 || record.runStartMs === null) return totals.total;
        return Math.min(totals.total, Math.floor((totals.total * Math.max(0, nowMs - record.runStartMs)) / runMs));
      }
      case 'finalizing':
      case 'completed':
        return totals.total;
      default:
        return 0;
    }
  }

  /** Keeps in-flight work where close() can wait for it; a failure no handler expected is kept for close() to report. */
  private track<T>(promise: Promise<T>): void {
    this.pending.add(promise);
    promise.then(
      () => this.pending.delete(promise),
      (err: unknown) => {
        this.pending.delete(promise);
        this.unexpected ??= err;
      },
    );
  }

  startCheck(record: BatchRecord): void {
    const runtime = this.runtime(record);
    const startedAt = Date.now();
    const check = checkInputFile(this.store, record.batch.input_file_id, record.batch.endpoint, {
      seed: this.seed,
      errorRate: this.errorRate,
      signal: this.abort.signal,
    }).then(
      (result) => {
        // Time the clock was moved on while the file was read counts as time spent running, not validating.
        runtime.validatedAtMs = record.createdMs + Math.max(this.durationMs * 0.1, Date.now() - startedAt);
        if (!this.closed) this.onChecked(record, result);
      },
      (err: unknown) => {
        if (this.closed) return;
        this.fail(record, [{ code: 'internal_error', message: `The input file could not be checked: ${(err as Error).message}`, param: null, line: null }]);
      },
    );
    this.track(check);
  }

  private onChecked(record: BatchRecord, result: InputCheckResult): void {
    if (TERMINAL_STATUSES.has(record.batch.status)) return;
    if (!result.ok) {
      if (record.batch.status === 'cancelling') this.finish(record, 'cancelled');
      else this.fail(record, result.errors);
      return;
    }
    const runtime = this.runtime(record);
    if (runtime.written) return;
    runtime.plans = result.plans;
    runtime.totals = new PlanTotals(result.plans);
    record.inputTokens = result.inputTokens;
    record.batch.model = result.model;
    record.batch.request_counts = runtime.totals.counts(0, false);
    this.step(record);
  }

  /** Moves a batch along its timeline as far as emulator time allows, then sleeps until its next change. */
  step(record: BatchRecord): void {
    const { batch } = record;
    const runtime = this.runtime(record);
    if (this.closed || TERMINAL_STATUSES.has(batch.status)) return;
    if (runtime.timer) clearTimeout(runtime.timer);
    runtime.timer = null;
    const nowMs = this.clock.now();
    const expiresMs = record.createdMs + COMPLETION_WINDOW_SECONDS * 1000;
    if (!record.expiring && (batch.status === 'validating' || batch.status === 'in_progress') && nowMs >= expiresMs) {
      this.beginExpiry(record, expiresMs);
      return;
    }
    if (!runtime.plans && !runtime.written) return; // the input check calls back when it is done
    const tail = this.durationMs * 0.1;
    if (record.expiring || batch.status === 'cancelling') {
      if (!runtime.written) return this.writeResults(record);
      const doneAt = (record.stopMs ?? nowMs) + (record.expiring ? 0 : tail);
      if (nowMs >= doneAt) return this.finish(record, record.expiring ? 'expired' : 'cancelled');
      return this.wakeAt(record, doneAt);
    }
    switch (batch.status) {
      case 'validating': {
        const startAt = runtime.validatedAtMs ?? record.createdMs + tail;
        if (nowMs < startAt) return this.wakeAt(record, startAt);
        return this.startRun(record, startAt);
      }
      case 'in_progress': {
        const endAt = (record.runStartMs ?? nowMs) + this.durationMs * 0.8;
        if (nowMs < endAt) return this.wakeAt(record, Math.min(endAt, expiresMs));
        record.finalizeStartMs = endAt;
        batch.status = 'finalizing';
        batch.finalizing_at = Math.floor(endAt / 1000);
        this.persistInBackground(record);
        return this.writeResults(record);
      }
      case 'finalizing': {
        if (!runtime.written) return this.writeResults(record);
        const doneAt = (record.finalizeStartMs ?? nowMs) + tail;
        if (nowMs >= doneAt) return this.finish(record, 'completed');
        return this.wakeAt(record, doneAt);
      }
      default:
        return;
    }
  }

  private wakeAt(record: BatchRecord, atMs: number): void {
    const runtime = this.runtime(record);
    const timer = setTimeout(() => this.step(record), Math.max(0, atMs - this.clock.now()));
    // The engine must never be what keeps a process alive; the server is.
    timer.unref();
    runtime.timer = timer;
  }

  private startRun(record: BatchRecord, startMs: number): void {
    const { batch } = record;
    if (Number.isFinite(this.tokenLimit)) {
      let enqueued = 0;
      for (const other of this.records.values()) {
        const status = other.batch.status;
        if (other !== record && other.batch.model === batch.model && (status === 'in_progress' || status === 'finalizing')) enqueued += other.inputTokens;
      }
      if (enqueued + record.inputTokens > this.tokenLimit) {
        const message =
          `Enqueued token limit reached for ${batch.model}. Limit: ${this.tokenLimit} enqueued tokens; ` +
          `this batch needs ${record.inputTokens} and ${enqueued} are already enqueued. Please try again once some in_progress batches have been completed.`;
        return this.fail(record, [{ code: 'token_limit_exceeded', message, param: null, line: null }]);
      }
    }
    record.runStartMs = startMs;
    batch.status = 'in_progress';
    batch.in_progress_at = Math.floor(startMs / 1000);
    this.persistInBackground(record);
    this.step(record);
  }

  beginExpiry(record: BatchRecord, atMs: number): void {
    record.doneAtStop = this.doneCount(record, atMs);
    record.stopMs = atMs;
    record.expiring = true;
    this.persistInBackground(record);
    this.step(record);
  }

  private writeResults(record: BatchRecord): void {
    const runtime = this.runtime(record);
    if (runtime.writing || runtime.written || !runtime.plans || !runtime.totals) return;
    runtime.writing = true;
    const { batch } = record;
    const plans = runtime.plans;
    const totals = runtime.totals;
    const done = record.doneAtStop ?? plans.length;
    const write = writeResultFiles({
      store: this.store,
      batchId: batch.id,
      endpoint: batch.endpoint,
      model: batch.model ?? '',
      plans,
      done,
      unfinishedCode: record.expiring ? 'batch_expired' : batch.status === 'cancelling' ? 'batch_cancelled' : null,
      seed: this.seed,
      now: this.clock.nowSeconds(),
      outputExpiresAfterSeconds: record.outputExpiresAfterSeconds,
      signal: this.abort.signal,
    }).then(
      ({ outputFileId, errorFileId }) => {
        runtime.writing = false;
        if (this.closed) return;
        runtime.written = true;
        batch.output_file_id = outputFileId;
        batch.error_file_id = errorFileId;
        batch.request_counts = totals.counts(done, true);
        batch.usage = totals.usage(done);
        this.persistInBackground(record);
        this.step(record);
      },
      (err: unknown) => {
        runtime.writing = false;
        if (this.closed) return;
        this.fail(record, [{ code: 'internal_error', message: `The result files could not be written: ${(err as Error).message}`, param: null, line: null }]);
      },
    );
    this.track(write);
  }

  private fail(record: BatchRecord, errors: BatchErrorItem[]): void {
    const { batch } = record;
    batch.errors = { object: 'list', data: errors };
    batch.request_counts = { total: 0, completed: 0, failed: 0 };
    this.finish(record, 'failed');
  }

  private finish(record: BatchRecord, status: 'completed' | 'failed' | 'cancelled' | 'expired'): void {
    const { batch } = record;
    const runtime = this.runtime(record);
    const nowSeconds = this.clock.nowSeconds();
    batch.status = status;
    if (status === 'completed') batch.completed_at = nowSeconds;
    else if (status === 'failed') batch.failed_at = nowSeconds;
    else if (status === 'cancelled') batch.cancelled_at = nowSeconds;
    else batch.expired_at = Math.floor((record.stopMs ?? this.clock.now()) / 1000);
    record.expiring = false;
    if (runtime.timer) clearTimeout(runtime.timer);
    runtime.timer = null;
    // The answers are in the files now; the plans were only needed to write them.
    runtime.plans = null;
    runtime.totals = null;
    this.persistInBackground(record);
    for (const wake of runtime.waiters.splice(0)) wake();
  }

  settled(record: BatchRecord): Promise<void> {
    if (TERMINAL_STATUSES.has(record.batch.status)) return Promise.resolve();
    return new Promise((resolve) => this.runtime(record).waiters.push(resolve));
  }

  persist(record: BatchRecord): Promise<void> {
    return this.state ? this.state.queueSave(record) : Promise.resolve();
  }

  private persistInBackground(record: BatchRecord): void {
    this.track(this.persist(record).catch(() => undefined));
  }
}

function newRuntime(): Runtime {
  return { plans: null, totals: null, timer: null, validatedAtMs: null, writing: false, written: false, waiters: [] };
}
