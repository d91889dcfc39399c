import { BatchlineError, invalidOption, ParseError, ValidationError } from '../errors.ts';

/**
 * What a stage does with a bad line: `'error'` fails the pipeline with it
 * (the default); `'skip'` drops the line but counts it and keeps its error;
 * a function is called with each error and the line is dropped (throw from
 * it to fail after all).
 */
export type InvalidPolicy = 'error' | 'skip' | ((error: BatchlineError) => void);

export const DEFAULT_MAX_REPORTED_ERRORS = 1000;

export function checkInvalidPolicy(policy: unknown): InvalidPolicy {
  if (policy === undefined) return 'error';
  if (policy === 'error' || policy === 'skip' || typeof policy === 'function') return policy as InvalidPolicy;
  throw invalidOption('onInvalid', `onInvalid must be 'error', 'skip' or a function, got ${JSON.stringify(policy)}`);
}

/** Errors a policy may skip: a bad line, never a broken limit or a failed write. */
export function isSkippable(error: unknown): error is BatchlineError {
  return error instanceof ParseError || error instanceof ValidationError;
}

/** Counts skipped lines and keeps the first `maxReported` of their errors (the count stays exact past it). */
export class SkippedLines {
  count = 0;
  readonly errors: BatchlineError[] = [];
  private readonly policy: InvalidPolicy;
  private readonly maxReported: number;

  constructor(policy: InvalidPolicy, maxReported = DEFAULT_MAX_REPORTED_ERRORS) {
    this.policy = policy;
    this.maxReported = maxReported;
  }

  /** Rethrows `error` unless the policy skips it; otherwise records it. */
  handle(error: unknown): asserts error is BatchlineError {
    if (this.policy === 'error' || !isSkippable(error)) throw error;
    if (typeof this.policy === 'function') this.policy(error);
    this.count++;
    if (this.errors.length < this.maxReported) this.errors.push(error);
  }
}
