import { LimitError, OptionError, OverflowError } from '../errors.ts';
import type { BatchEndpoint } from '../types.ts';

export const DEFAULT_MAX_SHARD_BYTES = 200_000_000;
export const DEFAULT_MAX_SHARD_REQUESTS = 50_000;
export const DEFAULT_MAX_OPEN_SHARDS = 16;

export interface ShardLimits {
  /** Bytes per shard file, counting the exact UTF-8 bytes and the `\n` of every line. */
  maxBytes: number;
  maxRequests: number;
  /** Shards open at once: one per endpoint + model seen and not yet full. */
  maxOpenShards: number;
}

/** A shard as the plan sees it; the stream face adds the file. */
export interface PlannedShard {
  index: number;
  endpoint: BatchEndpoint;
  model: string;
  bytes: number;
  requests: number;
  firstLine: number;
  lastLine: number;
}

export interface Placement {
  shard: PlannedShard;
  /** True when `shard` was opened for this request. */
  opened: boolean;
  /** A shard that had no room for this request and is now finished. */
  closedBefore: PlannedShard | undefined;
  /** True when `shard` is exactly full after this request and is now finished. */
  closedAfter: boolean;
}

export function normalizeShardLimits(options: Partial<ShardLimits>): ShardLimits {
  const limits: ShardLimits = {
    maxBytes: options.maxBytes ?? DEFAULT_MAX_SHARD_BYTES,
    maxRequests: options.maxRequests ?? DEFAULT_MAX_SHARD_REQUESTS,
    maxOpenShards: options.maxOpenShards ?? DEFAULT_MAX_OPEN_SHARDS,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new OptionError('INVALID_OPTION', `${name} must be a whole number ≥ 1, got ${JSON.stringify(value)}`);
    }
  }
  return limits;
}

/**
 * Decides which shard each request goes to: one endpoint and one model per
 * shard, each shard within maxBytes and maxRequests, requests kept in input
 * order within a shard. Shard indexes are given in the order shards open, so
 * the same input always yields the same files.
 */
export class ShardPlan {
  readonly limits: ShardLimits;
  private readonly open = new Map<string, PlannedShard>();
  private nextIndex = 0;

  constructor(options: Partial<ShardLimits> = {}) {
    this.limits = normalizeShardLimits(options);
  }

  /** `recordBytes` is the line's UTF-8 length plus its `\n`. */
  place(endpoint: BatchEndpoint, model: string, recordBytes: number, line: number, customId?: string): Placement {
    const { maxBytes, maxRequests, maxOpenShards } = this.limits;
    if (recordBytes > maxBytes) {
      throw new LimitError(
        'REQUEST_TOO_LARGE',
        `the request on line ${line} takes ${recordBytes} bytes with its line break, more than a shard's ${maxBytes}`,
        { line, customId },
      );
    }
    const key = `${endpoint} ${model}`;
    let shard = this.open.get(key);
    let closedBefore: PlannedShard | undefined;
    if (shard && shard.bytes + recordBytes > maxBytes) {
      closedBefore = shard;
      this.open.delete(key);
      shard = undefined;
    }
    let opened = false;
    if (!shard) {
      if (this.open.size >= maxOpenShards) {
        throw new OverflowError(
          'TOO_MANY_OPEN_SHARDS',
          `line ${line} needs a shard for ${endpoint} ${JSON.stringify(model)}, but ${maxOpenShards} shards are open already (one per endpoint and model)`,
          { line, customId },
        );
      }
      shard = { index: this.nextIndex++, endpoint, model, bytes: 0, requests: 0, firstLine: line, lastLine: line };
      this.open.set(key, shard);
      opened = true;
    }
    shard.bytes += recordBytes;
    shard.requests++;
    shard.lastLine = line;
    // A shard that can take no further request is finished now rather than at the end, so it can go up early.
    const closedAfter = shard.requests === maxRequests || shard.bytes === maxBytes;
    if (closedAfter) this.open.delete(key);
    return { shard, opened, closedBefore, closedAfter };
  }

  /** The shards still open, in index order; the plan forgets them. */
  finish(): PlannedShard[] {
    const rest = [...this.open.values()].sort((a, b) => a.index - b.index);
    this.open.clear();
    return rest;
  }
}
