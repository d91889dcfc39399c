/**
 * Keeps the input tokens a run has enqueued per model under a limit, as the
 * Batch API's per-model enqueued-token limit requires: a batch is submitted
 * only when its estimated tokens fit beside the batches of its model still
 * running, first come first served per model. A batch larger than the limit
 * on its own goes when nothing else of its model runs (it may still fail on
 * the limit; refusing it here would only hang the run). Also the waits after a
 * token-limit failure: until a batch of that model ends, or a delay passes.
 * A token-limit failure teaches it the account's limit: no more batches of
 * that model run at once than ran beside the failed one (at least one), one
 * more after each full round of them has ended; and a limit the error message
 * names is kept beside the configured one.
 */
import { AbortError, abortMessage } from '../errors.ts';

interface Waiter {
  tokens: number;
  limit: number;
  grant: () => void;
}

interface ModelQueue {
  inFlight: number;
  running: number;
  /** Batches of the model allowed at once: learnt from a token-limit failure. */
  maxRunning: number;
  /** The account's limit as a token-limit error named it. */
  learnt: number;
  /** Units whose batch of the model was seen past validation (in progress, finalizing): what holds the account's queue. */
  started: Set<number>;
  /** Such batches ended since maxRunning last changed: a full round of them raises it by one. */
  endedSince: number;
  waiting: Waiter[];
  /** Resolved (and replaced) each time a batch of the model ends. */
  ended: { promise: Promise<void>; resolve: () => void };
}

function signalOnce(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** `gpt-4o-2024-08-06` → `gpt-4o`, `gpt-4-0613` → `gpt-4`: a dated snapshot's base name; other names as they are. */
export function baseModel(model: string): string {
  return model.replace(/-(?:\d{4}-\d{2}-\d{2}|\d{4})$/, '');
}

export type TokenLimits = number | Readonly<Record<string, number>> | undefined;

export class TokenScheduler {
  readonly #limits: TokenLimits;
  readonly #models = new Map<string, ModelQueue>();

  constructor(limits: TokenLimits) {
    this.#limits = limits;
  }

  /** The limit for a model: a number for every model, or per model (a dated snapshot has its base name's; `*` for the rest). */
  limitOf(model: string): number {
    const limits = this.#limits;
    if (limits === undefined) return Number.POSITIVE_INFINITY;
    if (typeof limits === 'number') return limits;
    const base = baseModel(model);
    return limits[model] ?? limits[base] ?? limits['*'] ?? Number.POSITIVE_INFINITY;
  }

  /** One queue per model, a dated snapshot sharing its base name's: the account's limit counts them together. */
  #queue(model: string): ModelQueue {
    const key = baseModel(model);
    let queue = this.#models.get(key);
    if (!queue) this.#models.set(key, (queue = { inFlight: 0, running: 0, maxRunning: Number.POSITIVE_INFINITY, learnt: Number.POSITIVE_INFINITY, started: new Set(), endedSince: 0, waiting: [], ended: signalOnce() }));
    return queue;
  }

  /** Tokens of `model` enqueued now. */
  inFlight(model: string): number {
    return this.#models.get(baseModel(model))?.inFlight ?? 0;
  }

  /**
   * Waits until `tokens` of `model` may be enqueued and takes them; the
   * returned function gives them back (call it once the batch has ended).
   * `now`: take them at once whatever the limit (a batch already submitted by
   * an earlier process of a resumed run).
   */
  async acquire(model: string, tokens: number, signal?: AbortSignal, now = false): Promise<() => void> {
    if (signal?.aborted) throw new AbortError(abortMessage(signal));
    const queue = this.#queue(model);
    const limit = this.limitOf(model);
    if (now || (queue.waiting.length === 0 && fits(queue, tokens, limit))) {
      queue.inFlight += tokens;
      queue.running++;
    } else {
      // The grant counts the tokens in, so nobody slips past a waiter between its grant and its wake-up.
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const at = queue.waiting.indexOf(waiter);
          if (at === -1) return;
          queue.waiting.splice(at, 1);
          reject(new AbortError(abortMessage(signal as AbortSignal)));
          this.#grant(queue);
        };
        const waiter: Waiter = {
          tokens,
          limit,
          grant: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        queue.waiting.push(waiter);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      queue.inFlight -= tokens;
      queue.running--;
      const ended = queue.ended;
      queue.ended = signalOnce();
      ended.resolve();
      this.#grant(queue);
    };
  }

  #grant(queue: ModelQueue): void {
    while (queue.waiting.length > 0) {
      const next = queue.waiting[0];
      if (!fits(queue, next.tokens, next.limit)) break;
      queue.waiting.shift();
      queue.inFlight += next.tokens;
      queue.running++;
      next.grant();
    }
  }

  /** The batch of `unit` was seen past validation (in progress, finalizing): it holds the account's queue. */
  running(model: string, unit: number): void {
    this.#queue(model).started.add(unit);
  }

  /**
   * The batch of `unit` has ended; `ran`: it got past validation (it was
   * seen running, or it completed). After a token-limit failure lowered the
   * batches allowed at once, each full round of such endings raises it by one
   * again (additive increase): a refusal that was passing, or forced, does not
   * slow the rest of the run for good.
   */
  ended(model: string, unit: number, ran: boolean): void {
    const queue = this.#queue(model);
    const seen = queue.started.delete(unit);
    if (!(seen || ran) || !Number.isFinite(queue.maxRunning)) return;
    if (++queue.endedSince < queue.maxRunning) return;
    queue.maxRunning++;
    queue.endedSince = 0;
    this.#grant(queue);
  }

  /**
   * A batch of `model` failed on the account's token limit: from now on at
   * most as many of its batches run at once as were seen running past
   * validation (at least one), and `namedLimit` (the limit the error message
   * gave), if any, is kept. Returns how many were seen running.
   */
  congested(model: string, namedLimit?: number): number {
    const queue = this.#queue(model);
    const others = queue.started.size;
    queue.maxRunning = Math.max(1, Math.min(queue.maxRunning, others));
    queue.endedSince = 0;
    if (namedLimit !== undefined && namedLimit > 0) queue.learnt = Math.min(queue.learnt, namedLimit);
    return others;
  }

  /** Batches of `model` allowed at once (Infinity until a token-limit failure taught a number). */
  maxRunning(model: string): number {
    return this.#models.get(baseModel(model))?.maxRunning ?? Number.POSITIVE_INFINITY;
  }

  /** Resolves when a batch of `model` ends, or after `maxWaitMs` through `sleep`, whichever is first. */
  async afterNextEnd(model: string, sleep: (ms: number) => Promise<void>, maxWaitMs: number): Promise<void> {
    const queue = this.#queue(model);
    if (queue.running === 0) return sleep(maxWaitMs);
    await Promise.race([queue.ended.promise, sleep(maxWaitMs)]);
  }
}

/** Whether a batch of `tokens` may start now: alone it always may; beside others, within the batch count and the token limit. */
function fits(queue: ModelQueue, tokens: number, limit: number): boolean {
  if (queue.running === 0) return true;
  return queue.running < queue.maxRunning && queue.inFlight + tokens <= Math.min(limit, queue.learnt);
}
