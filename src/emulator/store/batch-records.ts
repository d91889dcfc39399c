/**
 * The records the batch engine keeps on disk with `stateDir`: one JSON file
 * per batch under `<stateDir>/batches`, replaced atomically.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { IoError } from '../../errors.ts';
import { readJsonRecord, writeJsonAtomic } from '../../io/atomic-write.ts';
import { systemCode, systemReason } from '../../io/system-error.ts';
import type { BatchObject } from '../../types.ts';

/** What the engine persists per batch: the object plus the timeline it runs on (emulator milliseconds). */
export interface BatchRecord {
  batch: BatchObject;
  /** Creation order, so listing stays newest-first after a restart even within one second. */
  seq: number;
  createdMs: number;
  runStartMs: number | null;
  finalizeStartMs: number | null;
  stopMs: number | null;
  /** Lines finished when a cancel or expiry stopped the run; null while running. */
  doneAtStop: number | null;
  /** Set once an expiry has been decided; the status follows when the partial files are written. */
  expiring: boolean;
  outputExpiresAfterSeconds: number | null;
  inputTokens: number;
  /**
   * The result files once written. The Batch object shows their ids only when
   * the batch has ended (completed, cancelled, expired), as the service does.
   */
  resultFiles: { output: string | null; error: string | null } | null;
}

/** Batch records under `<stateDir>/batches`, one JSON file each, replaced atomically. */
export class BatchStateDir {
  readonly dir: string;
  private readonly queues = new Map<string, Promise<void>>();
  private firstError: unknown = null;

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'batches');
  }

  /**
   * Queues a save of the record as it will be when its turn comes: the saves
   * of one batch land in order, so an older state never overwrites a newer one.
   */
  queueSave(record: BatchRecord): Promise<void> {
    const id = record.batch.id;
    const next = (this.queues.get(id) ?? Promise.resolve()).then(() => this.save(record));
    this.queues.set(
      id,
      next.catch((err: unknown) => {
        this.firstError ??= err;
      }),
    );
    return next;
  }

  /** Waits for every queued save; a save that failed is reported here even if nobody awaited it. */
  async flush(): Promise<void> {
    await Promise.all([...this.queues.values()]);
    if (this.firstError) {
      const err = this.firstError;
      const where = (err as NodeJS.ErrnoException).path ?? this.dir;
      throw new IoError('EMULATOR_STATE_WRITE_FAILED', `could not write batch state to ${where}: ${systemReason(err)}`, {
        path: where,
        syscallCode: systemCode(err),
        cause: err,
      });
    }
  }

  /** Saves one record atomically: a crash leaves the old record or the new one. */
  async save(record: BatchRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeJsonAtomic(path.join(this.dir, `${record.batch.id}.json`), record);
  }

  async loadAll(): Promise<BatchRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const records: BatchRecord[] = [];
    for (const name of names) {
      const full = path.join(this.dir, name);
      // A temp file is a write that never reached its rename: the record it meant to replace is still there.
      if (name.endsWith('.tmp')) {
        await rm(full, { force: true });
        continue;
      }
      if (!name.endsWith('.json')) continue;
      records.push(await readJsonRecord<BatchRecord>(full, 'EMULATOR_STATE_CORRUPT', isBatchRecord));
    }
    return records.sort((a, b) => a.seq - b.seq);
  }
}

function isBatchRecord(value: unknown): boolean {
  const record = value as Partial<BatchRecord> | null;
  return typeof record?.batch?.id === 'string' && typeof record.seq === 'number';
}
