/**
 * A request budget as a token bucket, pure: the caller passes the time.
 * `ratePerSecond` tokens flow in per second up to `burst`; each request
 * reserves one. A reservation never fails: when the bucket is empty it goes
 * into debt and says how long the caller must wait, so callers queue in the
 * order they asked and the long-run rate never passes the budget.
 */
import { invalidOption } from '../errors.ts';

export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  #tokens: number;
  #lastMs: number;

  constructor(ratePerSecond: number, burst: number, nowMs: number) {
    if (typeof ratePerSecond !== 'number' || !(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
      throw invalidOption('maxRequestsPerSecond', `maxRequestsPerSecond must be a number > 0, got ${JSON.stringify(ratePerSecond)}`);
    }
    if (!Number.isSafeInteger(burst) || burst < 1) throw invalidOption('requestBurst', `requestBurst must be a whole number ≥ 1, got ${JSON.stringify(burst)}`);
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.#tokens = burst;
    this.#lastMs = nowMs;
  }

  /** Tokens available at `nowMs` (negative while reservations are queued). */
  available(nowMs: number): number {
    this.#refill(nowMs);
    return this.#tokens;
  }

  /** Takes one token; returns how many milliseconds from `nowMs` the caller must wait before using it (0: now). */
  reserve(nowMs: number): number {
    this.#refill(nowMs);
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens * 1000) / this.ratePerSecond);
  }

  /** Gives back a reserved token that was never used (its caller was aborted while it waited). */
  refund(nowMs: number): void {
    this.#refill(nowMs);
    this.#tokens = Math.min(this.burst, this.#tokens + 1);
  }

  #refill(nowMs: number): void {
    const elapsed = nowMs - this.#lastMs;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.ratePerSecond) / 1000);
      this.#lastMs = nowMs;
    }
  }
}
