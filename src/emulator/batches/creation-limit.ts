/**
 * The batch-creation rate limit: at most N creations in any sliding window of
 * emulator time; one more is a 429 whose Retry-After says when a slot frees.
 * The live service limits creations per hour, but the exact text of its reply
 * is not known; the shape here is the one its other rate limits use.
 */
import type { EmulatorClock } from '../clock.ts';
import { EmulatorHttpError } from '../http-error.ts';

export class CreationLimit {
  private readonly creations: number;
  private readonly windowMs: number;
  private readonly clock: EmulatorClock;
  /** Emulator times of the creations still inside the window, oldest first. */
  private readonly taken: number[] = [];

  constructor(limit: { creations: number; windowMs: number }, clock: EmulatorClock) {
    this.creations = limit.creations;
    this.windowMs = limit.windowMs;
    this.clock = clock;
  }

  /** Takes a slot or throws the 429; the caller gives it back with `release` when the creation fails after all. */
  take(): number {
    const nowMs = this.clock.now();
    while (this.taken.length > 0 && this.taken[0] <= nowMs - this.windowMs) this.taken.shift();
    if (this.taken.length >= this.creations) {
      const waitMs = Math.max(1, this.taken[0] + this.windowMs - nowMs);
      throw new EmulatorHttpError(
        429,
        `Rate limit reached for batch creations: ${this.creations} per ${this.windowMs / 1000} s. Please try again in ${Math.ceil(waitMs / 1000)} s.`,
        {
          type: 'requests',
          code: 'rate_limit_exceeded',
          headers: { 'retry-after': String(Math.ceil(waitMs / 1000)), 'retry-after-ms': String(Math.ceil(waitMs)) },
        },
      );
    }
    this.taken.push(nowMs);
    return nowMs;
  }

  release(takenAt: number): void {
    const at = this.taken.indexOf(takenAt);
    if (at >= 0) this.taken.splice(at, 1);
  }
}
