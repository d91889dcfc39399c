/**
 * Writes buffers to a file in order while the caller goes on: one write (a
 * writev of everything gathered meanwhile) in flight at a time, and `write`
 * waits only while more than `maxPendingBytes` are waiting behind it. A
 * download thus reads the network while the disk writes, in few large
 * writes instead of one awaited write per chunk. With `syncEveryBytes`, a
 * datasync starts in the background each time that many more bytes are
 * written (one at a time, not waited for by `write`): the disk flushes while
 * the data still arrives, and the caller's final fsync finds little left.
 *
 * The buffers are the caller's and must not change until written. A failed
 * write is thrown by the next `write` or by `flush`; `settle` waits for the
 * write in flight without throwing, so a file is never closed under it.
 */
import type { FileHandle } from 'node:fs/promises';
import { writeAll } from './write-all.ts';

export const DEFAULT_MAX_PENDING_BYTES = 256 * 1024;

export interface WriteBehindOptions {
  /** Bytes that may wait behind the write in flight before `write` waits (default 256 KiB). */
  maxPendingBytes?: number;
  /** Start a background datasync after every this many bytes written (default 0: never). */
  syncEveryBytes?: number;
}

export class WriteBehind {
  readonly #handle: FileHandle;
  readonly #maxPendingBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #inflight: Promise<void> | undefined;
  #failure: { error: unknown } | undefined;
  #syncing: Promise<void> | undefined;
  #nextSync: number;
  readonly #syncEvery: number;
  /** Bytes handed to the file so far. */
  written = 0;

  constructor(handle: FileHandle, options: WriteBehindOptions = {}) {
    this.#handle = handle;
    this.#maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    this.#syncEvery = options.syncEveryBytes ?? 0;
    this.#nextSync = this.#syncEvery;
  }

  /** Queues `buffers`; resolves once the queue is back under its cap. */
  async write(buffers: readonly Buffer[]): Promise<void> {
    this.#throwFailure();
    for (const buffer of buffers) {
      if (buffer.length === 0) continue;
      this.#pending.push(buffer);
      this.#pendingBytes += buffer.length;
    }
    this.#start();
    while (this.#pendingBytes > this.#maxPendingBytes && this.#inflight) {
      await this.#inflight;
      this.#throwFailure();
    }
  }

  /** Resolves once every queued byte is written and no sync runs; throws a write's or a sync's failure. */
  async flush(): Promise<void> {
    while (this.#inflight || this.#syncing) await (this.#inflight ?? this.#syncing);
    this.#throwFailure();
  }

  #throwFailure(): void {
    if (this.#failure) throw this.#failure.error;
  }

  /** Waits for the write and sync in flight (and drops the rest), never throwing: before the file is closed on failure. */
  async settle(): Promise<void> {
    this.#pending = [];
    this.#pendingBytes = 0;
    while (this.#inflight || this.#syncing) await (this.#inflight ?? this.#syncing);
  }

  #syncIfDue(): void {
    if (this.#syncEvery === 0 || this.written < this.#nextSync || this.#syncing) return;
    this.#nextSync = this.written + this.#syncEvery;
    this.#syncing = this.#handle.datasync().then(
      () => {
        this.#syncing = undefined;
      },
      (error: unknown) => {
        this.#failure ??= { error };
        this.#syncing = undefined;
      },
    );
  }

  #start(): void {
    if (this.#inflight || this.#failure || this.#pending.length === 0) return;
    const batch = this.#pending;
    const bytes = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#inflight = writeAll(this.#handle, batch).then(
      () => {
        this.written += bytes;
        this.#inflight = undefined;
        this.#syncIfDue();
        this.#start();
      },
      (error: unknown) => {
        this.#failure ??= { error };
        this.#inflight = undefined;
      },
    );
  }
}
