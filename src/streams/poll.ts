/**
 * The poll stage: batch ids, batch objects or submitted shards in; the same
 * batches once they have ended out (a shard comes out as a PolledShard with
 * its final batch). Up to `concurrency` batches are watched at once, all
 * drawing on one request budget; the Duplex emits 'progress' with every
 * PollProgress. Per batch, the logic is src/openai/poll.ts.
 */
import type { Duplex } from 'node:stream';
import { invalidOption } from '../errors.ts';
import type { BatchObject, SubmittedShard } from '../types.ts';
import { resolveClient, type ApiClient, type ClientOptions } from '../openai/client.ts';
import { normalizePollOptions, pollBatch, pollShard, type PolledShard, type PollOptions, type PollProgress } from '../openai/poll.ts';
import { checkConcurrency, createConcurrentMap } from './concurrent-map.ts';

export interface PollerOptions extends PollOptions {
  client?: ApiClient | ClientOptions | undefined;
  /** Batches watched at once (default 100). */
  concurrency?: number | undefined;
  signal?: AbortSignal | undefined;
}

export type PollInput = string | BatchObject | SubmittedShard;
export type PollOutput = BatchObject | PolledShard;

export const DEFAULT_POLL_CONCURRENCY = 100;

export function createPoller(options: PollerOptions = {}): Duplex {
  const concurrency = checkConcurrency(options.concurrency, DEFAULT_POLL_CONCURRENCY);
  const client = resolveClient(options.client);
  const normalized = normalizePollOptions(options);
  const onProgress = normalized.onProgress;
  normalized.onProgress = (event: PollProgress) => {
    onProgress?.(event);
    duplex.emit('progress', event);
  };
  const duplex = createConcurrentMap<PollInput, PollOutput>(
    (item, signal) => {
      if (typeof item === 'string') return pollBatch(client, item, normalized, signal);
      if (item && typeof item === 'object' && 'batchId' in item) return pollShard(client, item, normalized, signal);
      if (item && typeof item === 'object' && item.object === 'batch') return pollBatch(client, item.id, normalized, signal);
      throw invalidOption('item', 'poll takes batch ids, batch objects or submitted shards');
    },
    { concurrency, signal: options.signal },
  );
  return duplex;
}
