/**
 * The batch engine behind /v1/batches: creates batches, validates their input
 * files, runs them through the statuses on a scaled clock, writes results,
 * and honours cancel, expiry and the enqueued-token limit.
 *
 * Timeline of a batch of duration D (emulator milliseconds): validating for
 * 0.1 D (or until the input check ends), in_progress for 0.8 D with requests
 * finishing at an even pace in input order, finalizing for 0.1 D while the
 * result files are written, then completed.
 */
import { BatchlineError, OptionError } from '../errors.ts';
import { EmulatorHttpError, type EmulatorClock, type FileStore } from './contracts.ts';
import { PlanTotals, writeResultFiles } from './batch-results.ts';
import {
  BatchStateDir,
  COMPLETION_WINDOW_SECONDS,
  TERMINAL_STATUSES,
  newBatchId,
  newBatchObject,
  parseCreateParams,
  type BatchObject,
  type BatchRecord,
  type BatchStatus,
} from './batch-state.ts';
import { checkInputFile, type BatchErrorItem, type InputCheckResult } from './input-check.ts';
import type { RequestPlan } from './responder.ts';

export type { BatchObject, BatchStatus, BatchUsage } from './batch-state.ts';
export type { BatchErrorItem } from './input-check.ts';

export interface BatchEngineOptions {
  store: FileStore;
  clock: EmulatorClock;
  stateDir?: string;
  /** How long a batch takes from creation to completed, in emulator milliseconds; default 2000. */
  batchDurationMs?: number;
  /** Share of requests answered with a 4xx in the error file, 0…1; default 0. */
  errorRate?: number;
  /** Enqueued input tokens allowed per model; default unlimited. */
  tokenLimit?: number;
  seed?: number;
}

export interface BatchList {
  object: 'list';
  data: BatchObject[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
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

const DEFAULT_BATCH_DURATION_MS = 2000;

export class BatchEngine {
  private readonly store: FileStore;
  private readonly clock: EmulatorClock;
  private readonly state: BatchStateDir | null;
  private readonly durationMs: number;
  private readonly errorRate: number;
  private readonly tokenLimit: number;
  private readonly seed: number;
  private readonly records = new Map<string, BatchRecord>();
  private readonly runtimes = new Map<string, Runtime>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly saves = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private saveError: unknown = null;
  private nextSeq = 1;
  private closed = false;
  private readonly onAdvance = (): void => {
    for (const record of this.records.values()) this.step(record);
  };

  constructor(options: BatchEngineOptions) {
    const duration = options.batchDurationMs ?? DEFAULT_BATCH_DURATION_MS;
    if (!Number.isFinite(duration) || duration < 0) throw new OptionError('INVALID_OPTION', `batchDurationMs must be a number ≥ 0, got ${duration}`);
    const errorRate = options.errorRate ?? 0;
    if (!(errorRate >= 0 && errorRate <= 1)) throw new OptionError('INVALID_OPTION', `errorRate must be between 0 and 1, got ${errorRate}`);
    const tokenLimit = options.tokenLimit ?? Number.POSITIVE_INFINITY;
    if (!(tokenLimit > 0)) throw new OptionError('INVALID_OPTION', `tokenLimit must be a positive number, got ${tokenLimit}`);
    this.store = options.store;
    this.clock = options.clock;
    this.state = options.stateDir ? new BatchStateDir(options.stateDir) : null;
    this.durationMs = duration;
    this.errorRate = errorRate;
    this.tokenLimit = tokenLimit;
    this.seed = (options.seed ?? 1) >>> 0;
    this.clock.on('advance', this.onAdvance);
  }

  /** Restores batches from `stateDir` and resumes those that were still running. */
  async init(): Promise<void> {
    if (!this.state) return;
    for (const record of await this.state.loadAll()) {
      this.records.set(record.batch.id, record);
      this.runtimes.set(record.batch.id, newRuntime());
      this.nextSeq = Math.max(this.nextSeq, record.seq + 1);
      if (TERMINAL_STATUSES.has(record.batch.status)) continue;
      const { batch } = record;
      // Result files already written before the stop only need the last status change.
      if (batch.output_file_id !== null || batch.error_file_id !== null) {
        this.runtime(record).written = true;
        this.step(record);
      } else {
        this.startCheck(record);
      }
    }
  }

  async create(params: unknown): Promise<BatchObject> {
    this.assertOpen();
    const parsed = parseCreateParams(params, this.store);
    const nowMs = this.clock.now();
    const batch = newBatchObject(newBatchId(), parsed, Math.floor(nowMs / 1000));
    const record: BatchRecord = {
      batch,
      seq: this.nextSeq++,
      createdMs: nowMs,
      runStartMs: null,
      finalizeStartMs: null,
      stopMs: null,
      doneAtStop: null,
      expiring: false,
      outputExpiresAfterSeconds: parsed.outputExpiresAfterSeconds,
      inputTokens: 0,
    };
    this.records.set(batch.id, record);
    this.runtimes.set(batch.id, newRuntime());
    await this.persist(record);
    this.startCheck(record);
    return this.snapshot(record);
  }

  retrieve(id: string): BatchObject {
    return this.snapshot(this.get(id));
  }

  async cancel(id: string): Promise<BatchObject> {
    this.assertOpen();
    const record = this.get(id);
    const { batch } = record;
    if (batch.status === 'cancelling') return this.snapshot(record);
    if (TERMINAL_STATUSES.has(batch.status) || record.expiring) {
      throw new EmulatorHttpError(409, `Cannot cancel a batch with status '${record.expiring ? 'expired' : batch.status}'.`, { code: 'batch_not_cancellable' });
    }
    const nowMs = this.clock.now();
    // Requests already answered stay answered: the count freezes where the run is now.
    record.doneAtStop = this.doneCount(record, nowMs);
    record.stopMs = nowMs;
    batch.status = 'cancelling';
    batch.cancelling_at = Math.floor(nowMs / 1000);
    const view = this.snapshot(record);
    await this.persist(record);
    this.step(record);
    return view;
  }

  /** Forces a running batch to expire now, as if its 24 h window had passed; resolves once it is `expired`. */
  async expire(id: string): Promise<BatchObject> {
    this.assertOpen();
    const record = this.get(id);
    const status = record.batch.status;
    if (!record.expiring) {
      if (status !== 'validating' && status !== 'in_progress') {
        throw new EmulatorHttpError(409, `Cannot expire a batch with status '${status}'.`, { code: 'batch_not_expirable' });
      }
      this.beginExpiry(record, this.clock.now());
    }
    await this.settled(record);
    return this.snapshot(record);
  }

  list(query: { limit?: number; after?: string } = {}): BatchList {
    const limit = query.limit ?? 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw new EmulatorHttpError(400, `Invalid value for 'limit': ${limit}. It must be an integer from 1 to 100.`, { param: 'limit', code: 'invalid_value' });
    }
    const newestFirst = [...this.records.values()].sort((a, b) => b.seq - a.seq);
    let start = 0;
    if (query.after !== undefined && query.after !== '') {
      const at = newestFirst.findIndex((record) => record.batch.id === query.after);
      if (at === -1) throw new EmulatorHttpError(400, `Invalid value for 'after': no batch ${query.after}.`, { param: 'after', code: 'invalid_value' });
      start = at + 1;
    }
    const page = newestFirst.slice(start, start + limit).map((record) => this.snapshot(record));
    return {
      object: 'list',
      data: page,
      first_id: page.length > 0 ? page[0].id : null,
      last_id: page.length > 0 ? page[page.length - 1].id : null,
      has_more: start + limit < newestFirst.length,
    };
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
    await Promise.allSettled([...this.saves.values()]);
    if (this.saveError) {
      throw new BatchlineError('EMULATOR_STATE_WRITE_FAILED', `could not write batch state: ${(this.saveError as Error).message}`, { cause: this.saveError });
    }
  }

  private get(id: string): BatchRecord {
    const record = this.records.get(id);
    if (!record) throw new EmulatorHttpError(404, `No batch found with id '${id}'.`, { param: 'batch_id', code: 'not_found' });
    return record;
  }

  private runtime(record: BatchRecord): Runtime {
    return this.runtimes.get(record.batch.id) as Runtime;
  }

  private assertOpen(): void {
    if (this.closed) throw new EmulatorHttpError(503, 'The emulator is shutting down.', { code: 'server_shutting_down' });
  }

  /** A copy of the batch with its live counts and usage. */
  private snapshot(record: BatchRecord): BatchObject {
    const view = structuredClone(record.batch);
    const { totals, written } = this.runtime(record);
    if (!TERMINAL_STATUSES.has(view.status) && totals && !written) {
      const done = this.doneCount(record, this.clock.now());
      view.request_counts = totals.counts(done, false);
      view.usage = totals.usage(done);
    }
    return view;
  }

  private doneCount(record: BatchRecord, nowMs: number): number {
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

  private track<T>(promise: Promise<T>): void {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
  }

  private startCheck(record: BatchRecord): void {
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
  private step(record: BatchRecord): void {
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

  private beginExpiry(record: BatchRecord, atMs: number): void {
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
      async ({ outputFileId, errorFileId }) => {
        runtime.writing = false;
        if (this.closed) return;
        runtime.written = true;
        batch.output_file_id = outputFileId;
        batch.error_file_id = errorFileId;
        batch.request_counts = totals.counts(done, true);
        batch.usage = totals.usage(done);
        await this.persist(record);
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

  private settled(record: BatchRecord): Promise<void> {
    if (TERMINAL_STATUSES.has(record.batch.status)) return Promise.resolve();
    return new Promise((resolve) => this.runtime(record).waiters.push(resolve));
  }

  /** Queues an atomic write of the record; writes of one batch land in order, each with the latest state. */
  private persist(record: BatchRecord): Promise<void> {
    const state = this.state;
    if (!state) return Promise.resolve();
    const id = record.batch.id;
    const next = (this.saves.get(id) ?? Promise.resolve()).then(() => state.save(record));
    const settledNext = next.catch((err: unknown) => {
      this.saveError ??= err;
    });
    this.saves.set(id, settledNext);
    return next;
  }

  private persistInBackground(record: BatchRecord): void {
    this.track(this.persist(record).catch(() => undefined));
  }
}

function newRuntime(): Runtime {
  return { plans: null, totals: null, timer: null, validatedAtMs: null, writing: false, written: false, waiters: [] };
}
