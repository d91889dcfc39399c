/**
 * The batch engine's work in flight (input checks, result writes, state
 * saves): kept where close() can abort it and wait for it, and a failure no
 * handler expected is kept to be reported then rather than lost.
 */
import { BatchlineError } from '../../errors.ts';

export class BackgroundWork {
  private readonly pending = new Set<Promise<unknown>>();
  private readonly abort = new AbortController();
  private unexpected: unknown = null;

  /** Aborted when the engine closes: long work (reading an input file, writing results) stops at its next chunk. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  track(promise: Promise<unknown>): void {
    this.pending.add(promise);
    promise.then(
      () => this.pending.delete(promise),
      (err: unknown) => {
        this.pending.delete(promise);
        this.unexpected ??= err;
      },
    );
  }

  /** Aborts what is running, waits for all of it (and for work it starts meanwhile), then reports an unexpected failure. */
  async close(): Promise<void> {
    this.abort.abort();
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** The first failure no handler expected, as EMULATOR_INTERNAL_ERROR; nothing when all went well. */
  rethrow(): void {
    if (this.unexpected) {
      throw new BatchlineError('EMULATOR_INTERNAL_ERROR', `the batch engine failed: ${(this.unexpected as Error).message}`, { cause: this.unexpected });
    }
  }
}
