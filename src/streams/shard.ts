import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { BatchlineError, invalidOption, IoError } from '../errors.ts';
import { lineOutput } from '../core/line-output.ts';
import { DecodedLine } from '../core/parsed-line.ts';
import { placeRequest, ShardPlan, type PlannedShard, type ShardLimits } from '../core/shard-plan.ts';
import type { BatchRequest, ShardDescriptor, ValidRequest } from '../types.ts';
import { systemCode, systemReason } from '../io/system-error.ts';
import { destroyOnAbort } from './abortable.ts';
import { ShardFile } from './shard-file.ts';
import { wholeNumberOption } from '../core/options.ts';

export const DEFAULT_WRITE_BUFFER_BYTES = 512 * 1024;

export interface SharderOptions extends Partial<ShardLimits> {
  /** Directory for the shard files; created when missing. */
  dir: string;
  /** File names are `<prefix>-00000.jsonl`, numbered in the order shards open. Default `shard`. */
  prefix?: string;
  /** Bytes gathered per open shard before one write. Default 512 KiB. */
  writeBufferBytes?: number;
  /** When given, each descriptor carries `tokens`: the sum of this estimate over its requests. */
  estimateTokens?: ((request: BatchRequest) => number) | undefined;
  signal?: AbortSignal;
}

export interface ShardStats {
  shards: number;
  requests: number;
  bytes: number;
  /** Requests written as they were read, with no re-serialising. */
  rawRequests: number;
}

interface OpenShard {
  plan: PlannedShard;
  file: ShardFile;
}

/**
 * Valid requests → shard files, one ShardDescriptor per finished file. Each
 * file holds one endpoint and one model, at most maxBytes (exact UTF-8 bytes
 * with every `\n`) and maxRequests, in input order. A request that came as
 * JSONL is written as it was read: from the parser's decoded text, which
 * encodes back to the same bytes, or from its bytes when it was not valid
 * UTF-8 or came with them. Files are fsynced before their
 * descriptor is emitted; on error or abort the unfinished files are removed.
 */
export class RequestSharder extends Transform {
  private readonly plan: ShardPlan;
  private readonly dir: string;
  private readonly prefix: string;
  private readonly writeBufferBytes: number;
  private readonly open = new Map<number, OpenShard>();
  private readonly estimateTokens: ((request: BatchRequest) => number) | undefined;
  /** Estimated tokens per open shard, when an estimate was given. */
  private readonly tokens = new Map<number, number>();
  private dirReady = false;
  private inflight: Promise<void> | undefined;
  private finishing: Promise<void> | undefined;
  private readonly counts: ShardStats = { shards: 0, requests: 0, bytes: 0, rawRequests: 0 };

  constructor(options: SharderOptions) {
    super({ objectMode: true, highWaterMark: 64 });
    if (typeof options?.dir !== 'string' || options.dir.length === 0) {
      throw invalidOption('dir', 'dir must name the directory for the shard files');
    }
    this.plan = new ShardPlan(options);
    this.dir = resolve(options.dir);
    this.prefix = options.prefix ?? 'shard';
    if (!/^[\w.-]+$/.test(this.prefix)) {
      throw invalidOption('prefix', `prefix must be letters, digits, '.', '_' or '-', got ${JSON.stringify(this.prefix)}`);
    }
    this.writeBufferBytes = wholeNumberOption(options.writeBufferBytes, 'writeBufferBytes', DEFAULT_WRITE_BUFFER_BYTES);
    if (options.estimateTokens !== undefined && typeof options.estimateTokens !== 'function') {
      throw invalidOption('estimateTokens', 'estimateTokens must be a function');
    }
    this.estimateTokens = options.estimateTokens;
    destroyOnAbort(this, options.signal);
  }

  get stats(): ShardStats {
    return { ...this.counts };
  }

  /** The path a shard index gets. */
  shardPath(index: number): string {
    return join(this.dir, `${this.prefix}-${String(index).padStart(5, '0')}.jsonl`);
  }

  override _transform(chunk: ValidRequest, _encoding: BufferEncoding, callback: TransformCallback): void {
    const step = this.writeRequest(chunk);
    this.inflight = step;
    step.then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    (async () => {
      for (const planned of this.plan.finish()) await this.finishShard(planned);
      await this.finishing;
    })().then(() => callback(), callback);
  }

  /** Removes the unfinished files; 'close' is emitted once they are gone. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Work still under way settles first, so that no file appears after the clean-up.
    Promise.allSettled([this.inflight, this.finishing])
      .then(() => {
        const unfinished = [...this.open.values()];
        this.open.clear();
        return Promise.allSettled(unfinished.map((shard) => shard.file.discard()));
      })
      .then(() => callback(error));
  }

  /** Places the request in its shard (finishing the shards it closes, opening the one it starts) and appends it there. */
  private async writeRequest(request: ValidRequest): Promise<void> {
    // The line as it was read (its text, or its bytes) when it came as JSONL; otherwise one serialisation.
    const { raw, text, size } = lineOutput(request);
    const original = raw !== undefined || request instanceof DecodedLine;
    const placement = placeRequest(this.plan, request, size);
    if (placement.closedBefore) await this.finishShard(placement.closedBefore);
    const shard = this.open.get(placement.shard.index) ?? (await this.openShard(placement.shard));
    await shard.file.append(raw, text, size);
    if (this.estimateTokens) {
      const index = placement.shard.index;
      this.tokens.set(index, (this.tokens.get(index) ?? 0) + this.estimateTokens(request.value));
    }
    this.counts.requests++;
    if (original) this.counts.rawRequests++;
    if (placement.closedAfter) await this.finishShard(placement.shard);
  }

  private async openShard(plan: PlannedShard): Promise<OpenShard> {
    if (!this.dirReady) {
      await mkdir(this.dir, { recursive: true }).catch((err: unknown) => {
        // A recursive mkdir fails with EEXIST only when a file stands where the directory should be.
        const why = systemCode(err) === 'EEXIST' ? 'a file is in its place' : systemReason(err);
        throw new IoError('SHARD_WRITE_FAILED', `could not create the directory ${this.dir}: ${why}`, {
          path: this.dir,
          syscallCode: systemCode(err),
          cause: err,
        });
      });
      this.dirReady = true;
    }
    const shard: OpenShard = { plan, file: new ShardFile(plan.index, this.shardPath(plan.index), this.writeBufferBytes) };
    // Registered before the open so that a destroy meanwhile removes the file too.
    this.open.set(plan.index, shard);
    await shard.file.open();
    if (this.destroyed) {
      await shard.file.discard();
      throw new BatchlineError('SHARD_DISCARDED', `shard ${plan.index} was opened after the stream was destroyed`, { shard: plan.index });
    }
    return shard;
  }

  /**
   * Flushes the shard and leaves its fsync, close and descriptor to run in
   * the background while the next requests are written; at most one shard
   * finishes at a time, so descriptors come out in the order shards fill.
   */
  private async finishShard(plan: PlannedShard): Promise<void> {
    const shard = this.open.get(plan.index);
    if (!shard) return;
    await shard.file.flush();
    const previous = this.finishing;
    const finishing = (async () => {
      await previous;
      await this.seal(shard);
    })();
    finishing.catch(() => undefined);
    this.finishing = finishing;
    await previous;
  }

  private async seal({ plan, file }: OpenShard): Promise<void> {
    const digests = await file.seal();
    if (file.written !== plan.bytes) {
      throw new BatchlineError('SHARD_SIZE_MISMATCH', `shard ${plan.index} holds ${file.written} bytes, ${plan.bytes} planned`, {
        shard: plan.index,
      });
    }
    // A descriptor nobody will read would leave an unknown file behind.
    if (this.destroyed) return;
    this.open.delete(plan.index);
    this.counts.shards++;
    this.counts.bytes += plan.bytes;
    const descriptor: ShardDescriptor = {
      index: plan.index,
      path: file.path,
      bytes: plan.bytes,
      requests: plan.requests,
      endpoint: plan.endpoint,
      model: plan.model,
      firstLine: plan.firstLine,
      lastLine: plan.lastLine,
      ...digests,
    };
    if (this.estimateTokens) {
      descriptor.tokens = this.tokens.get(plan.index) ?? 0;
      this.tokens.delete(plan.index);
    }
    this.push(descriptor);
  }
}

export function createSharder(options: SharderOptions): RequestSharder {
  return new RequestSharder(options);
}
