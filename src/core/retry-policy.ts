/**
 * The retry policy of every API call, as pure functions: which failures are
 * worth another attempt, how long to wait (exponential back-off with full
 * jitter, or the server's own Retry-After), and when to give up.
 */
import { invalidOption } from '../errors.ts';
import { wholeNumberOption } from './options.ts';

export interface RetryPolicy {
  /** Attempts in all, the first included (1 = never retry). */
  maxAttempts: number;
  /** The first back-off ceiling; each retry doubles it up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** No retry starts after this much time since the first attempt. */
  maxElapsedMs: number;
  /** Source of randomness for the jitter, in [0, 1). */
  random: () => number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 8,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxElapsedMs: 10 * 60_000,
  random: Math.random,
});

/** Statuses a later attempt can cure; 400/401/403/404/422 and the rest never are. */
const RETRYABLE_STATUSES = new Set([408, 409, 429]);

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status) || status >= 500;
}

export function normalizeRetryPolicy(options: Partial<RetryPolicy> | undefined): RetryPolicy {
  const given = options ?? {};
  const policy: RetryPolicy = {
    maxAttempts: wholeNumberOption(given.maxAttempts, 'retry.maxAttempts', DEFAULT_RETRY_POLICY.maxAttempts, 1),
    baseDelayMs: wholeNumberOption(given.baseDelayMs, 'retry.baseDelayMs', DEFAULT_RETRY_POLICY.baseDelayMs, 0),
    maxDelayMs: wholeNumberOption(given.maxDelayMs, 'retry.maxDelayMs', DEFAULT_RETRY_POLICY.maxDelayMs, 0),
    maxElapsedMs: wholeNumberOption(given.maxElapsedMs, 'retry.maxElapsedMs', DEFAULT_RETRY_POLICY.maxElapsedMs, 0),
    random: given.random ?? DEFAULT_RETRY_POLICY.random,
  };
  if (typeof policy.random !== 'function') {
    throw invalidOption('retry.random', 'retry.random must be a function returning a number in [0, 1)');
  }
  return policy;
}

/**
 * The wait before attempt `attempt + 1` after `attempt` failures: full jitter
 * (uniform in [0, min(max, base · 2^(attempt-1)))), but never less than what
 * the server asked for with Retry-After.
 */
export function retryDelayMs(policy: RetryPolicy, attempt: number, retryAfterMs: number | undefined): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
  const jitter = Math.floor(policy.random() * ceiling);
  return retryAfterMs === undefined ? jitter : Math.max(jitter, retryAfterMs);
}

/**
 * Reads `retry-after-ms` (milliseconds) or `retry-after` (seconds, or an HTTP
 * date) from response headers; undefined when absent or unreadable.
 */
export function retryAfterFromHeaders(get: (name: string) => string | null | undefined, now = Date.now()): number | undefined {
  const ms = get('retry-after-ms');
  if (ms) {
    const value = Number.parseFloat(ms);
    if (Number.isFinite(value) && value >= 0) return Math.ceil(value);
  }
  const header = get('retry-after');
  if (!header) return undefined;
  const seconds = Number.parseFloat(header);
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.ceil(seconds * 1000) : undefined;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
