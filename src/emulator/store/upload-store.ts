/**
 * The Uploads API: a large file sent as parts (each ≤ 64 MB, in any order,
 * possibly in parallel), then assembled in the order `complete` names them.
 * Parts are kept in a store of their own (memory, or `upload-parts/` under
 * the state directory), so they survive a restart but never show in
 * /v1/files; the assembled file streams from the parts into the file store.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EmulatorClock } from '../clock.ts';
import { EmulatorHttpError } from '../http-error.ts';
import type { UploadObject, UploadPartObject } from '../../types.ts';
import { readJsonRecord, writeJsonAtomic } from '../../io/atomic-write.ts';
import { DiskFileStore } from './disk-file-store.ts';
import { newId, type EmulatorFileStore } from './file-store.ts';
import { limitBytes } from './limit-bytes.ts';
import { assembleFile } from './upload-assembly.ts';
import { MemoryFileStore } from './memory-file-store.ts';
import { parseCompleteParams, parseUploadParams } from './upload-params.ts';

export interface UploadLimits {
  /** Bytes per part; the service allows 64 MB. */
  maxPartBytes: number;
  /** Bytes per upload; the service allows 8 GB. */
  maxUploadBytes: number;
}

/** An Upload lives an hour of emulator time. */
export const UPLOAD_TTL_SECONDS = 3600;

interface PartRecord extends UploadPartObject {
  bytes: number;
  /** Where the part's bytes live in the part store. */
  blobId: string;
}

interface UploadRecord {
  upload: UploadObject;
  parts: PartRecord[];
  /** Seconds after its creation that the assembled file expires, from `expires_after`. */
  fileTtlSeconds: number | null;
  /** True while `complete` is assembling the file: no parts, cancel or second complete meanwhile. */
  busy?: boolean;
}

export interface UploadStoreOptions {
  files: EmulatorFileStore;
  clock: EmulatorClock;
  limits: UploadLimits;
  stateDir?: string;
  /** Where a failure of background work (expiring uploads after the clock moves) is reported. */
  log?: (line: string) => void;
}

function badRequest(message: string, param: string | null = null, code: string | null = null): EmulatorHttpError {
  return new EmulatorHttpError(400, message, { param, code });
}

export class UploadStore {
  private readonly uploads = new Map<string, UploadRecord>();
  private readonly files: EmulatorFileStore;
  private readonly parts: EmulatorFileStore;
  private readonly clock: EmulatorClock;
  private readonly limits: UploadLimits;
  private readonly dir: string | undefined;
  private readonly log: (line: string) => void;
  private readonly onAdvance = () => this.background(this.expireDue());

  private constructor(options: UploadStoreOptions, parts: EmulatorFileStore, dir: string | undefined) {
    this.files = options.files;
    this.clock = options.clock;
    this.limits = options.limits;
    this.parts = parts;
    this.dir = dir;
    this.log = options.log ?? (() => {});
    this.clock.on('advance', this.onAdvance);
  }

  static async open(options: UploadStoreOptions): Promise<UploadStore> {
    if (options.stateDir === undefined) return new UploadStore(options, new MemoryFileStore(options.clock), undefined);
    const dir = join(options.stateDir, 'uploads');
    await mkdir(dir, { recursive: true });
    const parts = await DiskFileStore.open(join(options.stateDir, 'upload-parts'), options.clock);
    const store = new UploadStore(options, parts, dir);
    for (const name of await readdir(dir)) {
      // A temp file is a write that never reached its rename: the record it meant to replace is still there.
      if (name.endsWith('.tmp')) {
        await rm(join(dir, name), { force: true });
        continue;
      }
      if (!name.endsWith('.json')) continue;
      const record = await readJsonRecord<UploadRecord>(join(dir, name), 'EMULATOR_STATE_CORRUPT', isUploadRecord);
      delete record.busy;
      store.uploads.set(record.upload.id, record);
    }
    await store.expireDue();
    return store;
  }

  close(): void {
    this.clock.off('advance', this.onAdvance);
  }

  async create(params: unknown): Promise<UploadObject> {
    const { filename, purpose, bytes, fileTtlSeconds } = parseUploadParams(params, this.limits.maxUploadBytes);
    const now = this.clock.nowSeconds();
    const upload: UploadObject = {
      id: newId('upload_'),
      object: 'upload',
      bytes,
      created_at: now,
      filename,
      purpose,
      status: 'pending',
      expires_at: now + UPLOAD_TTL_SECONDS,
      file: null,
    };
    const record: UploadRecord = { upload, parts: [], fileTtlSeconds };
    this.uploads.set(upload.id, record);
    await this.save(record);
    return { ...upload };
  }

  /** The upload as it stands now (the API has no GET for uploads; tests and tools use this). */
  retrieve(id: string): UploadObject {
    return { ...this.record(id).upload };
  }

  async addPart(id: string, content: AsyncIterable<Buffer>): Promise<UploadPartObject> {
    const record = this.pending(id);
    const used = record.parts.reduce((sum, part) => sum + part.bytes, 0);
    const limit = Math.min(this.limits.maxPartBytes, this.limits.maxUploadBytes - used);
    const blob = await this.parts.create(
      { filename: `${id}.part`, purpose: 'upload_part' },
      limitBytes(content, limit, () =>
        limit < this.limits.maxPartBytes
          ? new EmulatorHttpError(413, `Upload ${id} would exceed ${this.limits.maxUploadBytes} bytes.`, { param: 'data', code: 'upload_too_large' })
          : new EmulatorHttpError(413, `A Part can be at most ${this.limits.maxPartBytes} bytes.`, { param: 'data', code: 'part_too_large' }),
      ),
    );
    // The upload may have been cancelled, completed or expired while the part streamed in.
    if (this.record(id).upload.status !== 'pending' || record.busy) {
      await this.parts.delete(blob.id);
      throw this.notPending(record);
    }
    // Parts sent in parallel each checked the total before the others landed.
    if (record.parts.reduce((sum, part) => sum + part.bytes, blob.bytes) > this.limits.maxUploadBytes) {
      await this.parts.delete(blob.id);
      throw new EmulatorHttpError(413, `Upload ${id} would exceed ${this.limits.maxUploadBytes} bytes.`, { param: 'data', code: 'upload_too_large' });
    }
    const part: PartRecord = { id: newId('part_'), object: 'upload.part', created_at: this.clock.nowSeconds(), upload_id: id, bytes: blob.bytes, blobId: blob.id };
    record.parts.push(part);
    await this.save(record);
    return { id: part.id, object: part.object, created_at: part.created_at, upload_id: part.upload_id };
  }

  async complete(id: string, params: unknown): Promise<UploadObject> {
    const record = this.pending(id);
    const { partIds, md5 } = parseCompleteParams(params);
    const byId = new Map(record.parts.map((part) => [part.id, part]));
    const chosen: PartRecord[] = [];
    for (const partId of partIds) {
      const part = byId.get(partId);
      if (!part) throw badRequest(`Part ${partId} does not belong to Upload ${id}.`, 'part_ids', 'invalid_part_id');
      if (chosen.includes(part)) throw badRequest(`Part ${partId} is listed twice.`, 'part_ids', 'duplicate_part_id');
      chosen.push(part);
    }
    const total = chosen.reduce((sum, part) => sum + part.bytes, 0);
    if (total !== record.upload.bytes) {
      throw badRequest(`The Upload was created with bytes=${record.upload.bytes} but the listed parts hold ${total} bytes.`, 'part_ids', 'bytes_mismatch');
    }
    record.busy = true;
    try {
      const meta = { filename: record.upload.filename, purpose: record.upload.purpose, expiresAfterSeconds: record.fileTtlSeconds };
      const file = await assembleFile(this.files, this.parts, chosen.map((part) => part.blobId), { md5, meta, bytes: total });
      record.upload.status = 'completed';
      record.upload.file = file;
      await this.releaseParts(record);
      await this.save(record);
      return { ...record.upload };
    } finally {
      record.busy = false;
    }
  }

  async cancel(id: string): Promise<UploadObject> {
    const record = this.pending(id);
    record.upload.status = 'cancelled';
    await this.releaseParts(record);
    await this.save(record);
    return { ...record.upload };
  }

  private record(id: string): UploadRecord {
    const record = this.uploads.get(id);
    // A 404 with neither param nor code, as the service's 404s for batches come (its Uploads 404 is not recorded).
    if (!record) throw new EmulatorHttpError(404, `No such Upload object: ${id}`);
    return record;
  }

  private pending(id: string): UploadRecord {
    const record = this.record(id);
    if (record.upload.status === 'pending' && record.upload.expires_at <= this.clock.nowSeconds()) {
      // Expire now rather than wait for the next sweep; freeing the parts can finish in the background.
      this.background(this.expire(record));
    }
    if (record.upload.status !== 'pending' || record.busy) throw this.notPending(record);
    return record;
  }

  private notPending(record: UploadRecord): EmulatorHttpError {
    const state = record.busy ? 'being completed' : record.upload.status;
    return badRequest(`Upload ${record.upload.id} is ${state}; only a pending Upload accepts this.`, null, 'upload_not_pending');
  }

  private async expireDue(): Promise<void> {
    const now = this.clock.nowSeconds();
    for (const record of this.uploads.values()) {
      if (record.upload.status === 'pending' && !record.busy && record.upload.expires_at <= now) await this.expire(record);
    }
  }

  /** Marks the upload expired at once (callers see it synchronously), then frees its parts and saves it. */
  private async expire(record: UploadRecord): Promise<void> {
    record.upload.status = 'expired';
    await this.releaseParts(record);
    await this.save(record);
  }

  private background(work: Promise<void>): void {
    work.catch((err: unknown) => this.log(`emulator: expiring uploads failed: ${(err as Error)?.message ?? err}`));
  }

  private async releaseParts(record: UploadRecord): Promise<void> {
    for (const part of record.parts) await this.parts.delete(part.blobId);
  }

  private async save(record: UploadRecord): Promise<void> {
    if (this.dir === undefined) return;
    const { busy: _busy, ...persisted } = record;
    await writeJsonAtomic(join(this.dir, `${record.upload.id}.json`), persisted);
  }
}

function isUploadRecord(value: unknown): boolean {
  const record = value as Partial<UploadRecord> | null;
  return typeof record?.upload?.id === 'string' && Array.isArray(record.parts);
}
