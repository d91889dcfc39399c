import { LimitError } from '../errors.ts';
import type { BatchEndpoint, ValidRequest } from '../types.ts';
import { countEmbeddingInputs, MAX_BATCH_EMBEDDING_INPUTS } from './embedding-inputs.ts';
import { lineOutput } from './line-output.ts';
import { wholeNumberOption } from './options.ts';

export const DEFAULT_MAX_SHARD_BYTES = 200_000_000;
export const DEFAULT_MAX_SHARD_REQUESTS = 50_000;
export const DEFAULT_MAX_OPEN_SHARDS = 16;

export interface ShardLimits {
  /** Bytes per shard file, counting the exact UTF-8 bytes and the `\n` of every line. */
  maxBytes: number;
  maxRequests: number;
  /**
   * Shards open at once: one per endpoint + model seen and not yet full. A
   * new route at the cap finishes the least recently used open shard first.
   */
  maxOpenShards: number;
  /** Embedding inputs per `/v1/embeddings` shard, summed over its requests (the API allows 50,000 per batch). */
  maxEmbeddingInputs: number;
}

/** A shard as the plan sees it; the stream face adds the file. */
export interface PlannedShard {
  index: number;
  endpoint: BatchEndpoint;
  model: string;
  bytes: number;
  requests: number;
  /** Embedding inputs its requests carry (embeddings shards only; 0 for the others). */
  embeddingInputs: number;
  firstLine: number;
  lastLine: number;
}

export interface Placement {
  shard: PlannedShard;
  /** True when `shard` was opened for this request. */
  opened: boolean;
  /**
   * A shard finished before this request: the same route's shard that had no
   * room for it, or, when a new route needed a shard at maxOpenShards, the
   * least recently used open shard.
   */
  closedBefore: PlannedShard | undefined;
  /** True when `shard` is exactly full after this request and is now finished. */
  closedAfter: boolean;
}

export function normalizeShardLimits(options: Partial<ShardLimits>): ShardLimits {
  return {
    maxBytes: wholeNumberOption(options.maxBytes, 'maxBytes', DEFAULT_MAX_SHARD_BYTES),
    maxRequests: wholeNumberOption(options.maxRequests, 'maxRequests', DEFAULT_MAX_SHARD_REQUESTS),
    maxOpenShards: wholeNumberOption(options.maxOpenShards, 'maxOpenShards', DEFAULT_MAX_OPEN_SHARDS),
    maxEmbeddingInputs: wholeNumberOption(options.maxEmbeddingInputs, 'maxEmbeddingInputs', MAX_BATCH_EMBEDDING_INPUTS),
  };
}

/**
 * Decides which shard each request goes to: one endpoint and one model per
 * shard, each shard within maxBytes and maxRequests (and, for embeddings,
 * maxEmbeddingInputs), requests kept in input
 * order within a shard. Shard indexes are given in the order shards open, so
 * the same input always yields the same files.
 *
 * Input with more routes than maxOpenShards is still sharded: the open
 * shard used longest ago is finished to make room, and its route's next
 * request opens a new shard. Order within a route holds, since a route's
 * shards are numbered in the order they open. Interleaved routes then give
 * more, smaller files; grouping the input by model avoids that.
 */
export class ShardPlan {
  readonly limits: ShardLimits;
  /** Open shards by route, with the sequence number of their last request. */
  private readonly open = new Map<string, { shard: PlannedShard; used: number }>();
  private nextIndex = 0;
  private placed = 0;

  constructor(options: Partial<ShardLimits> = {}) {
    this.limits = normalizeShardLimits(options);
  }

  /**
   * `recordBytes` is the line's UTF-8 length plus its `\n`; `embeddingInputs`
   * what an embeddings request's `input` carries (countEmbeddingInputs();
   * taken as 1 when not given), ignored for the other endpoints.
   */
  place(endpoint: BatchEndpoint, model: string, recordBytes: number, line: number, customId?: string, embeddingInputs = 1): Placement {
    const { maxBytes, maxRequests, maxOpenShards, maxEmbeddingInputs } = this.limits;
    const inputs = endpoint === '/v1/embeddings' ? embeddingInputs : 0;
    if (recordBytes > maxBytes) {
      throw new LimitError(
        'REQUEST_TOO_LARGE',
        `the request on line ${line} takes ${recordBytes} bytes with its line break, more than a shard's ${maxBytes}`,
        { line, customId },
      );
    }
    if (inputs > maxEmbeddingInputs) {
      throw new LimitError(
        'TOO_MANY_EMBEDDING_INPUTS',
        `the request on line ${line} carries ${inputs} embedding inputs, more than a batch's ${maxEmbeddingInputs}`,
        { line, customId },
      );
    }
    const key = `${endpoint} ${model}`;
    let entry = this.open.get(key);
    let closedBefore: PlannedShard | undefined;
    if (entry && (entry.shard.bytes + recordBytes > maxBytes || entry.shard.embeddingInputs + inputs > maxEmbeddingInputs)) {
      closedBefore = entry.shard;
      this.open.delete(key);
      entry = undefined;
    }
    let opened = false;
    if (!entry) {
      // Only a new route can find the plan at the cap: a full shard closed above freed its own place.
      if (this.open.size >= maxOpenShards) closedBefore = this.closeLeastRecentlyUsed();
      entry = { shard: { index: this.nextIndex++, endpoint, model, bytes: 0, requests: 0, embeddingInputs: 0, firstLine: line, lastLine: line }, used: 0 };
      this.open.set(key, entry);
      opened = true;
    }
    entry.used = ++this.placed;
    const shard = entry.shard;
    shard.bytes += recordBytes;
    shard.requests++;
    shard.embeddingInputs += inputs;
    shard.lastLine = line;
    // A shard that can take no further request is finished now rather than at the end, so it can go up early.
    const closedAfter = shard.requests === maxRequests || shard.bytes === maxBytes || (inputs > 0 && shard.embeddingInputs === maxEmbeddingInputs);
    if (closedAfter) this.open.delete(key);
    return { shard, opened, closedBefore, closedAfter };
  }

  /** The shards still open, in index order; the plan forgets them. */
  finish(): PlannedShard[] {
    const rest = [...this.open.values()].map(({ shard }) => shard).sort((a, b) => a.index - b.index);
    this.open.clear();
    return rest;
  }

  /** Forgets and returns the open shard whose last request is oldest (a scan: at most maxOpenShards, and only when a route opens at the cap). */
  private closeLeastRecentlyUsed(): PlannedShard {
    let oldestKey = '';
    let oldest: { shard: PlannedShard; used: number } | undefined;
    for (const [key, entry] of this.open) {
      if (!oldest || entry.used < oldest.used) {
        oldestKey = key;
        oldest = entry;
      }
    }
    this.open.delete(oldestKey);
    return (oldest as { shard: PlannedShard }).shard;
  }
}

/**
 * Places a validated request in `plan` as the sharder writes it: its line of
 * `size` bytes (lineOutput's, computed when not given) and its embedding
 * inputs. A request no shard can hold throws, coded.
 */
export function placeRequest(plan: ShardPlan, request: ValidRequest, size = lineOutput(request).size): Placement {
  const { line, value } = request;
  const inputs = value.url === '/v1/embeddings' ? countEmbeddingInputs(value.body.input) : undefined;
  return plan.place(value.url, value.body.model, size + 1, line, value.custom_id, inputs);
}
