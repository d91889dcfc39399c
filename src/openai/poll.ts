/**
 * Watching batches until they end. Each batch is retrieved, then looked at
 * again after the server's `openai-poll-after-ms` hint or the back-off
 * schedule (core/poll-schedule.ts); every request of every batch a poller
 * watches draws from one shared request budget (a token bucket). Each poll
 * tells `onProgress` what it saw. An abort ends the wait at once: the timer is
 * cleared and the request in flight is cancelled.
 *
 * A batch that ends `failed` is, by default (`onFailed: 'error'`), thrown as
 * a BatchFailedError (BATCH_FAILED or TOKEN_LIMIT_EXCEEDED, with the shard,
 * the batch id and its `errors.data`); with `onFailed: 'emit'` it is returned
 * like any other ending, its error on the shard's `failure` and in the last
 * progress event. `expired` and `cancelled` batches are returned: their
 * partial output and error files are there to download.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortError, abortMessage, invalidOption, type BatchFailedError } from '../errors.ts';
import type { BatchObject, BatchStatus, SubmittedShard } from '../types.ts';
import { nextPollDelayMs, normalizePollSchedule, pollAfterFromHeader, type PollSchedule } from '../core/poll-schedule.ts';
import { TokenBucket } from '../core/token-bucket.ts';
import { batchFailure, isTerminal, normalizeBatch } from './batches.ts';
import { resolveClient, type ApiClient, type ClientOptions } from './client.ts';

/** What one poll saw; sent after every poll, so a progress bar can also show that polling goes on. */
export interface PollProgress {
  batchId: string;
  shard?: number | undefined;
  status: BatchStatus;
  /** The status the previous poll saw; null on the first. */
  previousStatus: BatchStatus | null;
  requestCounts: { total: number; completed: number; failed: number };
  statusChanged: boolean;
  countsChanged: boolean;
  terminal: boolean;
  /** Polls of this batch so far, this one included. */
  polls: number;
  /** The wait before the next poll; null once the batch has ended. */
  nextPollMs: number | null;
  /** The server's `openai-poll-after-ms` hint, when it sent one. */
  pollAfterMs: number | null;
  /** Set on the last event of a batch that ended `failed`. */
  failure?: BatchFailedError | undefined;
  batch: BatchObject;
}

export type OnFailed = 'error' | 'emit';

export interface PollOptions extends Partial<PollSchedule> {
  /** Requests per second for all the batches watched together (default 5). */
  maxRequestsPerSecond?: number | undefined;
  /** Requests that may go out at once before the rate applies (default: the rate, at least 1). */
  requestBurst?: number | undefined;
  /** 'error' (default): a failed batch throws; 'emit': it is returned with its error attached. */
  onFailed?: OnFailed | undefined;
  onProgress?: ((event: PollProgress) => void) | undefined;
}

/** A shard whose batch has ended; `failure` is set when it ended `failed` (with `onFailed: 'emit'`). */
export interface PolledShard extends SubmittedShard {
  failure: BatchFailedError | null;
}

export const DEFAULT_MAX_REQUESTS_PER_SECOND = 5;

/** A token bucket on real time, with an abortable wait: one per poller, shared by its batches. */
export class RequestBudget {
  readonly #bucket: TokenBucket;

  constructor(ratePerSecond: number, burst: number) {
    this.#bucket = new TokenBucket(ratePerSecond, burst, performance.now());
  }

  /** Waits until one request may go out. */
  async take(signal?: AbortSignal): Promise<void> {
    const waitMs = this.#bucket.reserve(performance.now());
    if (waitMs <= 0) return;
    try {
      await sleep(waitMs, undefined, { signal });
    } catch (err) {
      this.#bucket.refund(performance.now());
      throw signal?.aborted ? new AbortError(abortMessage(signal)) : err;
    }
  }
}

export interface NormalizedPollOptions {
  schedule: PollSchedule;
  budget: RequestBudget;
  onFailed: OnFailed;
  onProgress: ((event: PollProgress) => void) | undefined;
}

export function normalizePollOptions(options: PollOptions = {}): NormalizedPollOptions {
  const rate = options.maxRequestsPerSecond ?? DEFAULT_MAX_REQUESTS_PER_SECOND;
  const burst = options.requestBurst ?? Math.max(1, Math.ceil(typeof rate === 'number' ? rate : 1));
  const onFailed = options.onFailed ?? 'error';
  if (onFailed !== 'error' && onFailed !== 'emit') throw invalidOption('onFailed', `onFailed must be 'error' or 'emit', got ${JSON.stringify(onFailed)}`);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw invalidOption('onProgress', 'onProgress must be a function');
  return { schedule: normalizePollSchedule(options), budget: new RequestBudget(rate, burst), onFailed, onProgress: options.onProgress };
}

/**
 * Polls one batch until it ends and returns its final object. Throws the
 * batch's BatchFailedError when it ends `failed` and `onFailed` is 'error'.
 */
export async function pollBatch(client: ApiClient, batchId: string, options: NormalizedPollOptions, signal?: AbortSignal, shard?: number): Promise<BatchObject> {
  let previous: BatchObject | null = null;
  for (let polls = 1; ; polls++) {
    const { batch, pollAfterMs } = await client.call(
      { operation: 'retrieve batch', batchId, shard },
      async ({ options: request }) => {
        await options.budget.take(signal);
        const { data, response } = await client.sdk.batches.retrieve(batchId, request).withResponse();
        return { batch: normalizeBatch(data), pollAfterMs: pollAfterFromHeader(response.headers.get('openai-poll-after-ms')) };
      },
      signal,
    );
    const terminal = isTerminal(batch);
    const nextPollMs = terminal ? null : nextPollDelayMs(options.schedule, polls, pollAfterMs);
    const failure = batch.status === 'failed' ? batchFailure(batch, shard) : undefined;
    options.onProgress?.({
      batchId,
      shard,
      status: batch.status,
      previousStatus: previous?.status ?? null,
      requestCounts: { ...batch.request_counts },
      statusChanged: previous?.status !== batch.status,
      countsChanged: previous === null || !sameCounts(previous, batch),
      terminal,
      polls,
      nextPollMs,
      pollAfterMs: pollAfterMs ?? null,
      failure,
      batch,
    });
    if (nextPollMs === null) {
      if (failure && options.onFailed === 'error') throw failure;
      return batch;
    }
    previous = batch;
    try {
      await sleep(nextPollMs, undefined, { signal });
    } catch (err) {
      throw signal?.aborted ? new AbortError(abortMessage(signal), { batchId, shard }) : err;
    }
  }
}

function sameCounts(a: BatchObject, b: BatchObject): boolean {
  const x = a.request_counts;
  const y = b.request_counts;
  return x?.total === y?.total && x?.completed === y?.completed && x?.failed === y?.failed;
}

/** Polls a submitted shard's batch; returns the shard with its final batch (and its failure, with `onFailed: 'emit'`). */
export async function pollShard(client: ApiClient, shard: SubmittedShard, options: NormalizedPollOptions, signal?: AbortSignal): Promise<PolledShard> {
  const batch = await pollBatch(client, shard.batchId, options, signal, shard.index);
  return { ...shard, batch, failure: batch.status === 'failed' ? batchFailure(batch, shard.index) : null };
}

export interface WaitOptions extends PollOptions {
  signal?: AbortSignal | undefined;
}

/** Waits for one batch to end (`batchline wait`): its final object, or its BatchFailedError (see `onFailed`). */
export async function waitForBatch(client: ApiClient | ClientOptions, batchId: string, options: WaitOptions = {}): Promise<BatchObject> {
  if (typeof batchId !== 'string' || batchId.length === 0) throw invalidOption('batchId', 'batchId must name a batch');
  return pollBatch(resolveClient(client), batchId, normalizePollOptions(options), options.signal);
}
