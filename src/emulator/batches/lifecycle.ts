/**
 * How one batch moves along its timeline (timeline.ts), on the emulator
 * clock: the input check, the run, the result files, and the end —
 * completed, failed, cancelled or expired. Cancel and expiry freeze the count
 * of answered requests and write partial results. Every status change is
 * saved when a state directory is in use.
 */
import type { BatchErrorItem, BatchObject } from '../../types.ts';
import type { RequestPlan } from '../answers/request-plan.ts';
import type { EmulatorClock } from '../clock.ts';
import type { BatchRecord, BatchStateDir } from '../store/batch-records.ts';
import type { FileStore } from '../store/file-store.ts';
import { BackgroundWork } from './background-work.ts';
import type { NormalizedEngineSettings } from './engine-options.ts';
import { checkInputFile, type InputCheckResult } from './input-check.ts';
import { PlanTotals, writeResultFiles } from './results.ts';
import { absentFileId, COMPLETION_WINDOW_SECONDS, markEnded, TERMINAL_STATUSES } from './state.ts';
import { answeredAt, FINALIZING_SHARE, RUNNING_SHARE, VALIDATING_SHARE } from './timeline.ts';
import { serverErrorItem } from './batch-faults.ts';
import { FORCED_TOKEN_LIMIT, tokenLimitError, tokenLimitItem } from './token-limit.ts';

export interface LifecycleOptions extends NormalizedEngineSettings {
  store: FileStore;
  clock: EmulatorClock;
  state: BatchStateDir | null;
}

/** What a batch holds only while it runs; rebuilt from the input file after a restart. */
interface Runtime {
  plans: RequestPlan[] | null;
  totals: PlanTotals | null;
  timer: NodeJS.Timeout | null;
  /** Emulator time at which validation is over: a tenth of the run after creation, or later when the check took longer. */
  validatedAtMs: number | null;
  writing: boolean;
  waiters: Array<() => void>;
}

export class BatchLifecycle {
  readonly records = new Map<string, BatchRecord>();
  private readonly options: LifecycleOptions;
  private readonly clock: EmulatorClock;
  private readonly runtimes = new Map<string, Runtime>();
  private readonly work = new BackgroundWork();
  private closed = false;
  private readonly onAdvance = (): void => {
    for (const record of this.records.values()) this.step(record);
  };

  constructor(options: LifecycleOptions) {
    this.options = options;
    this.clock = options.clock;
    this.clock.on('advance', this.onAdvance);
  }

  add(record: BatchRecord): void {
    this.records.set(record.batch.id, record);
    this.runtimes.set(record.batch.id, { plans: null, totals: null, timer: null, validatedAtMs: null, writing: false, waiters: [] });
  }

  /** Resumes a batch restored from the state directory. */
  resume(record: BatchRecord): void {
    record.resultFiles ??= null;
    this.add(record);
    if (TERMINAL_STATUSES.has(record.batch.status)) return;
    // Result files written before the stop only need the last status change.
    if (record.resultFiles) this.step(record);
    else this.startCheck(record);
  }

  /** A copy of the batch with its live counts and usage. */
  snapshot(record: BatchRecord): BatchObject {
    const view = structuredClone(record.batch);
    const { totals } = this.runtime(record);
    // While validating the service shows no counts yet, even once it knows how many requests there are.
    if (!TERMINAL_STATUSES.has(view.status) && view.status !== 'validating' && totals && !record.resultFiles) {
      const done = this.answered(record, this.clock.now());
      view.request_counts = totals.counts(done, false);
      view.usage = totals.usage(done);
    }
    return view;
  }

  /** Stops the run where it is: answered requests stay answered, the rest end batch_cancelled. */
  beginCancel(record: BatchRecord): void {
    const nowMs = this.clock.now();
    record.doneAtStop = this.answered(record, nowMs);
    record.stopMs = nowMs;
    record.batch.status = 'cancelling';
    record.batch.cancelling_at = Math.floor(nowMs / 1000);
  }

  beginExpiry(record: BatchRecord, atMs: number): void {
    record.doneAtStop = this.answered(record, atMs);
    record.stopMs = atMs;
    record.expiring = true;
    this.persistInBackground(record);
    this.step(record);
  }

  startCheck(record: BatchRecord): void {
    const runtime = this.runtime(record);
    const startedAt = Date.now();
    const { seed, errorRate, transientErrorRate, durationMs } = this.options;
    const planOptions = { seed, errorRate, transientErrorRate, batchId: record.batch.id, signal: this.work.signal };
    const check = checkInputFile(this.options.store, record.batch.input_file_id, record.batch.endpoint, planOptions).then(
      (result) => {
        // Time the clock was moved on while the file was read counts as time spent running, not validating.
        runtime.validatedAtMs = record.createdMs + Math.max(durationMs * VALIDATING_SHARE, Date.now() - startedAt);
        if (!this.closed) this.onChecked(record, result);
      },
      (err: unknown) => {
        if (!this.closed) this.fail(record, [internalError(`The input file could not be checked: ${(err as Error).message}`)]);
      },
    );
    this.work.track(check);
  }

  /** Moves a batch along its timeline as far as emulator time allows, then sleeps until its next change. */
  step(record: BatchRecord): void {
    const { batch } = record;
    const runtime = this.runtime(record);
    if (this.closed || TERMINAL_STATUSES.has(batch.status)) return;
    if (runtime.timer) clearTimeout(runtime.timer);
    runtime.timer = null;
    const nowMs = this.clock.now();
    const { durationMs } = this.options;
    const expiresMs = record.createdMs + COMPLETION_WINDOW_SECONDS * 1000;
    if (!record.expiring && (batch.status === 'validating' || batch.status === 'in_progress') && nowMs >= expiresMs) {
      return this.beginExpiry(record, expiresMs);
    }
    if (!runtime.plans && !record.resultFiles) return; // the input check calls back when it is done
    if (record.expiring || batch.status === 'cancelling') {
      if (!record.resultFiles) return this.writeResults(record);
      const doneAt = (record.stopMs ?? nowMs) + (record.expiring ? 0 : this.options.cancelDurationMs);
      if (nowMs >= doneAt) return this.finish(record, record.expiring ? 'expired' : 'cancelled');
      return this.wakeAt(record, doneAt);
    }
    switch (batch.status) {
      case 'validating': {
        const startAt = runtime.validatedAtMs ?? record.createdMs + durationMs * VALIDATING_SHARE;
        if (nowMs < startAt) return this.wakeAt(record, startAt);
        return this.startRun(record, startAt);
      }
      case 'in_progress': {
        const endAt = (record.runStartMs ?? nowMs) + durationMs * RUNNING_SHARE;
        const faultAt = this.expiryFaultAt(record);
        if (nowMs >= faultAt) return this.beginExpiry(record, faultAt);
        if (nowMs < endAt) return this.wakeAt(record, Math.min(endAt, expiresMs, faultAt));
        record.finalizeStartMs = endAt;
        batch.status = 'finalizing';
        batch.finalizing_at = Math.floor(endAt / 1000);
        this.persistInBackground(record);
        return this.writeResults(record);
      }
      case 'finalizing': {
        if (!record.resultFiles) return this.writeResults(record);
        const doneAt = (record.finalizeStartMs ?? nowMs) + durationMs * FINALIZING_SHARE;
        if (nowMs >= doneAt) return this.finish(record, 'completed');
        return this.wakeAt(record, doneAt);
      }
      default:
        return;
    }
  }

  settled(record: BatchRecord): Promise<void> {
    if (TERMINAL_STATUSES.has(record.batch.status)) return Promise.resolve();
    return new Promise((resolve) => this.runtime(record).waiters.push(resolve));
  }

  persist(record: BatchRecord): Promise<void> {
    return this.options.state ? this.options.state.queueSave(record) : Promise.resolve();
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
    for (const runtime of this.runtimes.values()) for (const wake of runtime.waiters.splice(0)) wake();
    await this.work.close();
    await this.options.state?.flush();
    this.work.rethrow();
  }

  private runtime(record: BatchRecord): Runtime {
    return this.runtimes.get(record.batch.id) as Runtime;
  }

  private answered(record: BatchRecord, nowMs: number): number {
    const totals = this.runtime(record).totals;
    return totals ? answeredAt(record, record.batch.status, totals.total, nowMs, this.options.durationMs) : 0;
  }

  private onChecked(record: BatchRecord, result: InputCheckResult): void {
    if (TERMINAL_STATUSES.has(record.batch.status)) return;
    if (!result.ok) {
      if (record.batch.status === 'cancelling') this.finish(record, 'cancelled');
      else this.fail(record, result.errors);
      return;
    }
    if (record.resultFiles) return;
    const runtime = this.runtime(record);
    runtime.plans = result.plans;
    runtime.totals = new PlanTotals(result.plans);
    record.inputTokens = result.inputTokens;
    record.batch.model = result.model;
    this.step(record);
  }

  private wakeAt(record: BatchRecord, atMs: number): void {
    const timer = setTimeout(() => this.step(record), Math.max(0, atMs - this.clock.now()));
    // The engine must never be what keeps a process alive; the server is.
    timer.unref();
    this.runtime(record).timer = timer;
  }

  /** When an `expire` fault stops the batch: half way through its run; never for a batch without one. */
  private expiryFaultAt(record: BatchRecord): number {
    if (this.options.batchFaults.get(record.seq) !== 'expire' || record.runStartMs === null) return Number.POSITIVE_INFINITY;
    return record.runStartMs + (this.options.durationMs * RUNNING_SHARE) / 2;
  }

  private startRun(record: BatchRecord, startMs: number): void {
    const { batch } = record;
    const { tokenLimit } = this.options;
    const fault = this.options.batchFaults.get(record.seq);
    if (fault === 'token_limit_exceeded') return this.fail(record, [tokenLimitItem(batch.model ?? '', Number.isFinite(tokenLimit) ? tokenLimit : FORCED_TOKEN_LIMIT)]);
    if (fault === 'fail') return this.fail(record, [serverErrorItem()]);
    const overLimit = tokenLimitError(record, this.records.values(), tokenLimit);
    if (overLimit) return this.fail(record, [overLimit]);
    record.runStartMs = startMs;
    batch.status = 'in_progress';
    batch.in_progress_at = Math.floor(startMs / 1000);
    this.persistInBackground(record);
    this.step(record);
  }

  private writeResults(record: BatchRecord): void {
    const runtime = this.runtime(record);
    if (runtime.writing || record.resultFiles || !runtime.plans || !runtime.totals) return;
    runtime.writing = true;
    const { batch } = record;
    const { plans, totals } = runtime;
    const done = record.doneAtStop ?? plans.length;
    const write = writeResultFiles({
      store: this.options.store,
      batchId: batch.id,
      endpoint: batch.endpoint,
      model: batch.model ?? '',
      plans,
      done,
      unfinishedCode: record.expiring ? 'batch_expired' : batch.status === 'cancelling' ? 'batch_cancelled' : null,
      seed: this.options.seed,
      now: this.clock.nowSeconds(),
      outputExpiresAfterSeconds: record.outputExpiresAfterSeconds,
      signal: this.work.signal,
    }).then(
      ({ outputFileId, errorFileId }) => {
        runtime.writing = false;
        if (this.closed) return;
        record.resultFiles = { output: outputFileId, error: errorFileId };
        batch.request_counts = totals.counts(done, true);
        batch.usage = totals.usage(done);
        this.persistInBackground(record);
        this.step(record);
      },
      (err: unknown) => {
        runtime.writing = false;
        if (!this.closed) this.fail(record, [internalError(`The result files could not be written: ${(err as Error).message}`)]);
      },
    );
    this.work.track(write);
  }

  private fail(record: BatchRecord, errors: BatchErrorItem[]): void {
    record.batch.errors = { object: 'list', data: errors };
    record.batch.request_counts = { total: 0, completed: 0, failed: 0 };
    this.finish(record, 'failed');
  }

  private finish(record: BatchRecord, status: 'completed' | 'failed' | 'cancelled' | 'expired'): void {
    const runtime = this.runtime(record);
    // An expired batch ended when its window closed, however late the files were written.
    const endedAt = status === 'expired' ? Math.floor((record.stopMs ?? this.clock.now()) / 1000) : this.clock.nowSeconds();
    markEnded(record.batch, status, endedAt, record.resultFiles, absentFileId(record.seq, this.options.seed));
    record.expiring = false;
    if (runtime.timer) clearTimeout(runtime.timer);
    runtime.timer = null;
    // The answers are in the files now; the plans were only needed to write them.
    runtime.plans = null;
    runtime.totals = null;
    this.persistInBackground(record);
    for (const wake of runtime.waiters.splice(0)) wake();
  }

  private persistInBackground(record: BatchRecord): void {
    this.work.track(this.persist(record).catch(() => undefined));
  }
}

function internalError(message: string): BatchErrorItem {
  return { code: 'internal_error', message, param: null, line: null };
}
