/**
 * When to look at a running batch again, as pure functions: the server's own
 * `openai-poll-after-ms` hint when it sends one, else a back-off that grows
 * from `initialDelayMs` by `multiplier` per poll up to `maxDelayMs`. The
 * back-off never resets: a batch that runs for hours is looked at once a
 * minute, not once a second whenever its counts move.
 */
import { invalidOption } from '../errors.ts';
import { wholeNumberOption } from './options.ts';

export interface PollSchedule {
  /** The wait after the first poll of a running batch (default 1 s). */
  initialDelayMs: number;
  /** The longest wait between polls (default 60 s). */
  maxDelayMs: number;
  /** Growth per poll, from 1 (a fixed interval) to 10 (default 1.5). */
  multiplier: number;
  /** Honour the server's `openai-poll-after-ms` hint (default true). */
  usePollAfter: boolean;
}

export const DEFAULT_POLL_SCHEDULE: Readonly<PollSchedule> = Object.freeze({
  initialDelayMs: 1000,
  maxDelayMs: 60_000,
  multiplier: 1.5,
  usePollAfter: true,
});

/** A server hint longer than this is taken for a mistake and capped. */
export const MAX_POLL_AFTER_MS = 60 * 60_000;

export function normalizePollSchedule(given: Partial<PollSchedule> | undefined): PollSchedule {
  const options = given ?? {};
  const initialDelayMs = wholeNumberOption(options.initialDelayMs, 'initialDelayMs', DEFAULT_POLL_SCHEDULE.initialDelayMs, 0);
  const maxDelayMs = wholeNumberOption(options.maxDelayMs, 'maxDelayMs', Math.max(initialDelayMs, DEFAULT_POLL_SCHEDULE.maxDelayMs), 0);
  if (maxDelayMs < initialDelayMs) {
    throw invalidOption('maxDelayMs', `maxDelayMs (${maxDelayMs}) must be ≥ initialDelayMs (${initialDelayMs})`);
  }
  const multiplier = options.multiplier ?? DEFAULT_POLL_SCHEDULE.multiplier;
  if (typeof multiplier !== 'number' || !(multiplier >= 1 && multiplier <= 10)) {
    throw invalidOption('multiplier', `multiplier must be a number from 1 to 10, got ${JSON.stringify(multiplier)}`);
  }
  const usePollAfter = options.usePollAfter ?? DEFAULT_POLL_SCHEDULE.usePollAfter;
  if (typeof usePollAfter !== 'boolean') throw invalidOption('usePollAfter', 'usePollAfter must be true or false');
  return { initialDelayMs, maxDelayMs, multiplier, usePollAfter };
}

/** The back-off wait after poll number `poll` (1-based) of a batch that is still running. */
export function backoffDelayMs(schedule: PollSchedule, poll: number): number {
  const steps = Math.min(Math.max(0, poll - 1), 200);
  return Math.min(schedule.maxDelayMs, Math.round(schedule.initialDelayMs * schedule.multiplier ** steps));
}

/** The wait after poll number `poll`: the server's hint when there is one (and it is honoured), else the back-off. */
export function nextPollDelayMs(schedule: PollSchedule, poll: number, pollAfterMs: number | undefined): number {
  if (schedule.usePollAfter && pollAfterMs !== undefined) return Math.min(pollAfterMs, MAX_POLL_AFTER_MS);
  return backoffDelayMs(schedule, poll);
}

/** Reads `openai-poll-after-ms`: a whole or fractional number of milliseconds ≥ 0; anything else is absent. */
export function pollAfterFromHeader(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const ms = Number(value);
  return Number.isFinite(ms) && ms >= 0 ? Math.ceil(ms) : undefined;
}
