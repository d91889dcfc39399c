/**
 * The one client every transport stage talks through: an `openai` SDK instance
 * (built from options or the environment, or the caller's own OpenAI /
 * AzureOpenAI instance) with the SDK's retries turned off, and one retry layer
 * on top (p-retry, with our policy).
 *
 * Why p-retry and not the SDK's retries: the SDK does not retry a request whose
 * body is a stream (every upload here), caps neither the total time nor lets a
 * caller act between attempts, and the submit stage must look for an adopted
 * batch before it creates again. One layer, ours, with `maxRetries: 0` below it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import pRetry from 'p-retry';
import { AbortError, abortMessage, ApiError, BatchlineError, OptionError } from '../errors.ts';
import { normalizeRetryPolicy, retryDelayMs, type RetryPolicy } from '../core/retry-policy.ts';
import { wholeNumberOption } from '../core/options.ts';
import { redact, toApiError, type CallTarget } from './api-error.ts';
import { bodyFetch } from './body-fetch.ts';

export type { CallTarget } from './api-error.ts';

export interface ClientOptions {
  /** A ready SDK instance (OpenAI or AzureOpenAI); its own retries are turned off on a copy. */
  client?: OpenAI | undefined;
  /** Default: OPENAI_API_KEY. */
  apiKey?: string | undefined;
  /** Default: OPENAI_BASE_URL, else the OpenAI API. Any OpenAI-compatible Batch API works. */
  baseURL?: string | undefined;
  organization?: string | undefined;
  project?: string | undefined;
  /** One attempt's time limit, headers and request body included (default 10 minutes). */
  timeoutMs?: number | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  /** Told before every retry's wait: for logs and progress. */
  onRetry?: ((event: RetryEvent) => void) | undefined;
}

export interface RetryEvent {
  operation: string;
  /** The attempt that failed (1-based). */
  attempt: number;
  delayMs: number;
  error: ApiError;
}

/** What a call's function gets: the SDK's per-request options, and which attempt this is. */
export interface CallRequest {
  options: { signal?: AbortSignal | undefined; timeout: number; maxRetries: 0 };
  attempt: number;
}

export const DEFAULT_TIMEOUT_MS = 10 * 60_000;

export class ApiClient {
  /** The SDK instance for every JSON call, as the caller built it (or from options), retries off. */
  readonly sdk: OpenAI;
  /**
   * The same client for the requests whose bodies are large (uploads, and the
   * downloads of a file's content): on our fetch (body-fetch.ts) when the SDK
   * would use Node's own; a caller's custom fetch is kept as it is.
   */
  readonly streamingSdk: OpenAI;
  readonly policy: RetryPolicy;
  readonly timeoutMs: number;
  readonly #onRetry: ((event: RetryEvent) => void) | undefined;

  constructor(options: ClientOptions = {}) {
    this.policy = normalizeRetryPolicy(options.retry);
    this.timeoutMs = wholeNumberOption(options.timeoutMs, 'timeoutMs', DEFAULT_TIMEOUT_MS);
    this.#onRetry = options.onRetry;
    this.sdk = options.client ? options.client.withOptions({ maxRetries: 0 }) : buildSdk(options, this.timeoutMs);
    const usesBuiltInFetch = (this.sdk as unknown as { fetch?: unknown }).fetch === globalThis.fetch;
    this.streamingSdk = usesBuiltInFetch ? this.sdk.withOptions({ fetch: bodyFetch as unknown as typeof fetch }) : this.sdk;
  }

  /** The secret to keep out of every message. */
  get #secret(): string | null {
    return typeof this.sdk.apiKey === 'string' ? this.sdk.apiKey : null;
  }

  /**
   * Runs `fn` until it succeeds, fails for good, or the policy runs out. Every
   * failure is an ApiError (or the caller's own BatchlineError, never retried)
   * with `attempts` set; an abort is an AbortError, with no timer left behind.
   */
  async call<T>(target: CallTarget, fn: (request: CallRequest) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const started = performance.now();
    let attempts = 0;
    try {
      return await pRetry(
        async (attempt) => {
          attempts = attempt;
          try {
            return await fn({ options: { signal, timeout: this.timeoutMs, maxRetries: 0 }, attempt });
          } catch (err) {
            throw toApiError(err, target, this.#secret);
          }
        },
        {
          retries: this.policy.maxAttempts - 1,
          minTimeout: 0, // the wait is ours: full jitter or Retry-After, in shouldRetry
          maxRetryTime: this.policy.maxElapsedMs,
          signal,
          shouldRetry: async ({ error, attemptNumber }) => {
            if (!(error instanceof ApiError) || !error.retryable) return false;
            const delayMs = retryDelayMs(this.policy, attemptNumber, error.retryAfterMs);
            if (performance.now() - started + delayMs > this.policy.maxElapsedMs) return false;
            this.#onRetry?.({ operation: target.operation, attempt: attemptNumber, delayMs, error });
            if (delayMs > 0) await sleep(delayMs, undefined, { signal });
            return true;
          },
        },
      );
    } catch (err) {
      if (signal?.aborted) throw new AbortError(abortMessage(signal), withoutOperation(target));
      const final = err instanceof BatchlineError ? err : toApiError(err, target, this.#secret);
      if (final instanceof ApiError) final.attempts = attempts;
      throw final;
    }
  }

  /** Cuts the API key out of text that may have come from elsewhere (a server's message). */
  redact(text: string): string {
    return redact(text, this.#secret);
  }
}

function withoutOperation({ operation: _operation, ...where }: CallTarget) {
  return where;
}

function buildSdk(options: ClientOptions, timeoutMs: number): OpenAI {
  try {
    return new OpenAI({
      fetch: bodyFetch as unknown as typeof fetch,
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      organization: options.organization,
      project: options.project,
      maxRetries: 0,
      timeout: timeoutMs,
    });
  } catch (err) {
    throw new OptionError('MISSING_API_KEY', 'No API key: set OPENAI_API_KEY, or pass apiKey or a client', { option: 'apiKey', cause: err });
  }
}

/** The client for `options`: the given ApiClient itself, or a new one. */
export function resolveClient(options: ClientOptions | ApiClient | undefined): ApiClient {
  return options instanceof ApiClient ? options : new ApiClient(options);
}
