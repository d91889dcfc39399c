/**
 * Keeps the input tokens a run has enqueued per model under a limit, as the
 * Batch API's per-model enqueued-token limit requires: a batch is submitted
 * only when its estimated tokens fit beside the batches of its model still
 * running, first come first served per model. A batch larger than the limit
 * on its own goes when nothing else of its model runs (it may still fail on
 * the limit; refusing it here would only hang the run). Also the waits after a
 * token-limit failure: until a batch of that model ends, or a delay passes.
 */
import { AbortError, abortMessage } from '../errors.ts';

interface Waiter {
  tokens: number;
  grant: () => void;
}

interface ModelQueue {
  inFlight: number;
  running: number;
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
    if (!queue) this.#models.set(key, (queue = { inFlight: 0, running: 0, waiting: [], ended: signalOnce() }));
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
    const fits = () => queue.running === 0 || queue.inFlight + tokens <= limit;
    if (now || (queue.waiting.length === 0 && fits())) {
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
          this.#grant(queue, limit);
        };
        const waiter: Waiter = {
          tokens,
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
      this.#grant(queue, limit);
    };
  }

  #grant(queue: ModelQueue, limit: number): void {
    while (queue.waiting.length > 0) {
      const next = queue.waiting[0];
      if (queue.running > 0 && queue.inFlight + next.tokens > limit) break;
      queue.waiting.shift();
      queue.inFlight += next.tokens;
      queue.running++;
      next.grant();
    }
  }

  /** Resolves when a batch of `model` ends, or after `maxWaitMs` through `sleep`, whichever is first. */
  async afterNextEnd(model: string, sleep: (ms: number) => Promise<void>, maxWaitMs: number): Promise<void> {
    const queue = this.#queue(model);
    if (queue.running === 0) return sleep(maxWaitMs);
    await Promise.race([queue.ended.promise, sleep(maxWaitMs)]);
  }
}
