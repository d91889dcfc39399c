/**
 * The batch engine behind /v1/batches: create, retrieve, cancel and list with
 * the service's checks and errors. Each batch then runs on its own timeline
 * (lifecycle.ts): its input file is validated as the service does,
 * requests are answered by the responder, results are written shuffled, and
 * cancel, expiry and the enqueued-token limit end it early.
 */
import type { BatchObject, ListPage } from '../../types.ts';
import type { EmulatorClock } from '../clock.ts';
import { EmulatorHttpError } from '../http-error.ts';
import { BatchStateDir, type BatchRecord } from '../store/batch-records.ts';
import type { FileStore } from '../store/file-store.ts';
import { CreationLimit } from './creation-limit.ts';
import { normalizeEngineSettings, type EngineSettings } from './engine-options.ts';
import { BatchLifecycle } from './lifecycle.ts';
import { parseCreateParams } from './params.ts';
import { TERMINAL_STATUSES, newBatchId, newBatchObject } from './state.ts';

export { DEFAULT_BATCH_DURATION_MS, type BatchCreationLimit } from './engine-options.ts';

export interface BatchEngineOptions extends EngineSettings {
  store: FileStore;
  clock: EmulatorClock;
  stateDir?: string;
}

export class BatchEngine {
  private readonly store: FileStore;
  private readonly clock: EmulatorClock;
  private readonly state: BatchStateDir | null;
  private readonly lifecycle: BatchLifecycle;
  private readonly creationLimit: CreationLimit | null;
  private nextSeq = 1;
  private closed = false;

  constructor(options: BatchEngineOptions) {
    const settings = normalizeEngineSettings(options);
    this.store = options.store;
    this.clock = options.clock;
    this.state = options.stateDir ? new BatchStateDir(options.stateDir) : null;
    this.lifecycle = new BatchLifecycle({ ...settings, store: options.store, clock: options.clock, state: this.state });
    this.creationLimit = settings.creationLimit ? new CreationLimit(settings.creationLimit, options.clock) : null;
  }

  /** Restores batches from `stateDir` and resumes those that were still running. */
  async init(): Promise<void> {
    if (!this.state) return;
    for (const record of await this.state.loadAll()) {
      this.nextSeq = Math.max(this.nextSeq, record.seq + 1);
      this.lifecycle.resume(record);
    }
  }

  async create(params: unknown): Promise<BatchObject> {
    this.assertOpen();
    const parsed = parseCreateParams(params, this.store);
    const slot = this.creationLimit?.take();
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
      resultFiles: null,
    };
    // Saved before it is registered: a create whose state write fails leaves no batch behind.
    try {
      await this.lifecycle.persist(record);
    } catch (err) {
      if (slot !== undefined) this.creationLimit?.release(slot);
      throw err;
    }
    this.lifecycle.add(record);
    this.lifecycle.startCheck(record);
    return this.lifecycle.snapshot(record);
  }

  retrieve(id: string): BatchObject {
    return this.lifecycle.snapshot(this.get(id));
  }

  /**
   * Moves a batch to `cancelling`; it becomes `cancelled` once its partial
   * results are written and `cancelDurationMs` has passed. Cancelling it again
   * meanwhile answers the `cancelling` batch, as the service does.
   */
  async cancel(id: string): Promise<BatchObject> {
    this.assertOpen();
    const record = this.get(id);
    const { batch } = record;
    if (batch.status === 'cancelling') return this.lifecycle.snapshot(record);
    if (TERMINAL_STATUSES.has(batch.status) || record.expiring) {
      throw new EmulatorHttpError(409, `Cannot cancel a batch with status '${record.expiring ? 'expired' : batch.status}'.`, { code: null });
    }
    this.lifecycle.beginCancel(record);
    const view = this.lifecycle.snapshot(record);
    await this.lifecycle.persist(record);
    this.lifecycle.step(record);
    return view;
  }

  /** Forces a running batch to expire now, as if its 24 h window had passed; resolves once it is `expired`. */
  async expire(id: string): Promise<BatchObject> {
    this.assertOpen();
    const record = this.get(id);
    const status = record.batch.status;
    if (!record.expiring) {
      if (status !== 'validating' && status !== 'in_progress') {
        throw new EmulatorHttpError(409, `Cannot expire a batch with status '${status}'.`, { code: null });
      }
      this.lifecycle.beginExpiry(record, this.clock.now());
    }
    await this.lifecycle.settled(record);
    return this.lifecycle.snapshot(record);
  }

  list(query: { limit?: number; after?: string } = {}): ListPage<BatchObject> {
    const limit = query.limit ?? 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw new EmulatorHttpError(400, `Invalid value for 'limit': ${limit}. It must be an integer from 1 to 100.`, { param: 'limit', code: 'invalid_value' });
    }
    const newestFirst = [...this.lifecycle.records.values()].sort((a, b) => b.seq - a.seq);
    let start = 0;
    if (query.after !== undefined && query.after !== '') {
      const at = newestFirst.findIndex((record) => record.batch.id === query.after);
      if (at === -1) throw new EmulatorHttpError(400, `Invalid value for 'after': no batch ${query.after}.`, { param: 'after', code: 'invalid_value' });
      start = at + 1;
    }
    const page = newestFirst.slice(start, start + limit).map((record) => this.lifecycle.snapshot(record));
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
    await this.lifecycle.close();
  }

  private get(id: string): BatchRecord {
    // The live API checks an id's prefix before looking it up: a 400, where an unknown id of the right shape is a 404.
    if (!id.startsWith('batch')) {
      throw new EmulatorHttpError(400, `Invalid 'batch_id': '${id}'. Expected an ID that begins with 'batch'.`, { param: 'batch_id', code: 'invalid_value' });
    }
    const record = this.lifecycle.records.get(id);
    // The live 404 carries neither param nor code.
    if (!record) throw new EmulatorHttpError(404, `No batch found with id '${id}'.`);
    return record;
  }

  private assertOpen(): void {
    if (this.closed) throw new EmulatorHttpError(503, 'The emulator is shutting down.', { code: 'server_shutting_down' });
  }
}
