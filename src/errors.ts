/**
 * The error tree. Every failure batchline reports is a BatchlineError with a
 * stable string `code`, plus whatever location is known: the 1-based input
 * `line`, the request's `customId`, the `shard` index, the `batchId`, the
 * `fileId` and the `uploadId`. The codes, their meanings and the class that
 * carries each are listed once, in ERROR_CODES (error-codes.ts).
 */
import type { ErrorCode, ErrorCodeOf } from './error-codes.ts';
import type { BatchErrorItem, BatchObject } from './types.ts';

export { ERROR_CODES, type ErrorClassName, type ErrorCode, type ErrorCodeInfo, type ErrorCodeOf } from './error-codes.ts';

export interface ErrorContext {
  line?: number | undefined;
  customId?: string | undefined;
  shard?: number | undefined;
  batchId?: string | undefined;
  fileId?: string | undefined;
  /** The Uploads API upload a failure belongs to (it was cancelled, or expires within the hour). */
  uploadId?: string | undefined;
  cause?: unknown;
}

export class BatchlineError extends Error {
  readonly code: ErrorCode;
  // `declare`: set only when known, so an error's own keys (and its JSON) hold no `undefined` locations.
  declare line?: number;
  declare customId?: string;
  declare shard?: number;
  declare batchId?: string;
  declare fileId?: string;
  declare uploadId?: string;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    this.code = code;
    if (context.line !== undefined) this.line = context.line;
    if (context.customId !== undefined) this.customId = context.customId;
    if (context.shard !== undefined) this.shard = context.shard;
    if (context.batchId !== undefined) this.batchId = context.batchId;
    if (context.fileId !== undefined) this.fileId = context.fileId;
    if (context.uploadId !== undefined) this.uploadId = context.uploadId;
  }

  /** A plain, JSON-safe view: what the CLI prints and `skip` reports carry. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { code: this.code, message: this.message };
    for (const key of ['line', 'customId', 'shard', 'batchId', 'fileId', 'uploadId'] as const) {
      if (this[key] !== undefined) out[key] = this[key];
    }
    return out;
  }
}

/**
 * A bad option passed to a stage or command; `option` names it as it was
 * given: `maxBytes`, `retry.maxAttempts`, `limits.maxFileBytes`, a CLI flag
 * as `--max-bytes`, or `arguments` for a command's positional arguments.
 */
export class OptionError extends BatchlineError {
  declare readonly code: ErrorCodeOf<'OptionError'>;
  readonly option: string;

  constructor(code: ErrorCodeOf<'OptionError'>, message: string, context: ErrorContext & { option: string }) {
    super(code, message, context);
    this.option = context.option;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), option: this.option };
  }
}

/** INVALID_OPTION naming the option. */
export function invalidOption(option: string, message: string, context: ErrorContext = {}): OptionError {
  return new OptionError('INVALID_OPTION', message, { ...context, option });
}

/** Input bytes that are not a JSON object per line. */
export class ParseError extends BatchlineError {
  declare readonly code: ErrorCodeOf<'ParseError'>;

  constructor(code: ErrorCodeOf<'ParseError'>, message: string, context: ErrorContext = {}) {
    super(code, message, context);
  }
}

/** A request that breaks a Batch API rule. */
export class ValidationError extends BatchlineError {
  declare readonly code: ErrorCodeOf<'ValidationError'>;

  constructor(code: ErrorCodeOf<'ValidationError'>, message: string, context: ErrorContext = {}) {
    super(code, message, context);
  }
}

/** A request or line that cannot fit the per-file limits. */
export class LimitError extends BatchlineError {
  declare readonly code: ErrorCodeOf<'LimitError'>;

  constructor(code: ErrorCodeOf<'LimitError'>, message: string, context: ErrorContext = {}) {
    super(code, message, context);
  }
}

/** A buffer that would grow past its cap. */
export class OverflowError extends BatchlineError {
  declare readonly code: ErrorCodeOf<'OverflowError'>;

  constructor(code: ErrorCodeOf<'OverflowError'>, message: string, context: ErrorContext = {}) {
    super(code, message, context);
  }
}

/** A result line that cannot be matched to the input. */
export class JoinError extends BatchlineError {
  declare readonly code: ErrorCodeOf<'JoinError'>;

  constructor(code: ErrorCodeOf<'JoinError'>, message: string, context: ErrorContext = {}) {
    super(code, message, context);
  }
}

export interface BatchFailedContext extends ErrorContext {
  /** The batch's final status. */
  status?: string | undefined;
  /** The API's code for the failure, e.g. `token_limit_exceeded`. */
  apiCode?: string | undefined;
  /** The batch's `errors.data`, as the API sent them. */
  items?: readonly BatchErrorItem[] | undefined;
  /** The final batch object, for a caller that resubmits its input file. */
  batch?: BatchObject | undefined;
}

/** How many of a failed batch's error items its JSON view repeats. */
const MAX_ITEMS_IN_JSON = 10;

/**
 * A batch that ended failed (or expired or cancelled where completion was
 * required): `BATCH_FAILED`, or `TOKEN_LIMIT_EXCEEDED` when the account's
 * enqueued-token limit refused it (resubmit once other batches finish).
 */
export class BatchFailedError extends BatchlineError {
  declare readonly code: ErrorCodeOf<'BatchFailedError'>;
  declare status?: string;
  declare apiCode?: string;
  readonly items: readonly BatchErrorItem[];
  declare batch?: BatchObject;

  constructor(code: ErrorCodeOf<'BatchFailedError'>, message: string, context: BatchFailedContext = {}) {
    super(code, message, context);
    this.items = context.items ?? [];
    if (context.status !== undefined) this.status = context.status;
    if (context.apiCode !== undefined) this.apiCode = context.apiCode;
    // Kept off the enumerable keys: an error printed or logged whole should not dump the batch.
    if (context.batch !== undefined) Object.defineProperty(this, 'batch', { value: context.batch, enumerable: false });
  }

  override toJSON(): Record<string, unknown> {
    const out = super.toJSON();
    if (this.status !== undefined) out.status = this.status;
    if (this.apiCode !== undefined) out.apiCode = this.apiCode;
    if (this.items.length > 0) out.items = this.items.slice(0, MAX_ITEMS_IN_JSON);
    return out;
  }
}

export interface IoErrorContext extends ErrorContext {
  path?: string | undefined;
  /** The system's code (ENOENT, EACCES …), kept out of the message. */
  syscallCode?: string | undefined;
}

/** A file-system failure: `path` names the file or directory, `syscallCode` the system's code (ENOENT, EACCES …). */
export class IoError extends BatchlineError {
  declare readonly code: ErrorCodeOf<'IoError'>;
  declare path?: string;
  declare syscallCode?: string;

  constructor(code: ErrorCodeOf<'IoError'>, message: string, context: IoErrorContext = {}) {
    super(code, message, context);
    if (context.path !== undefined) this.path = context.path;
    if (context.syscallCode !== undefined) this.syscallCode = context.syscallCode;
  }

  override toJSON(): Record<string, unknown> {
    const out = super.toJSON();
    if (this.path !== undefined) out.path = this.path;
    if (this.syscallCode !== undefined) out.syscallCode = this.syscallCode;
    return out;
  }
}

export interface ApiErrorContext extends ErrorContext {
  /** HTTP status; absent for a connection failure or a timeout. */
  status?: number | undefined;
  /** The API's own error code (`error.code` in the body), e.g. `invalid_value`. */
  apiCode?: string | undefined;
  /** The `x-request-id` of the failed response, for support tickets. */
  requestId?: string | undefined;
  /** Whether a later attempt could succeed (408/409/429/5xx and connection failures). */
  retryable?: boolean | undefined;
  /** How many attempts were made before giving up. */
  attempts?: number | undefined;
  /** The wait the server asked for (Retry-After / retry-after-ms), in milliseconds. */
  retryAfterMs?: number | undefined;
}

/**
 * A failed call to the Files, Uploads or Batches API. Never carries the API key:
 * messages come from the server's error body or the connection error, and no
 * request headers are kept.
 */
export class ApiError extends BatchlineError {
  declare readonly code: ErrorCodeOf<'ApiError'>;
  declare status?: number;
  declare apiCode?: string;
  declare requestId?: string;
  declare attempts?: number;
  declare retryAfterMs?: number;
  readonly retryable: boolean;

  constructor(code: ErrorCodeOf<'ApiError'>, message: string, context: ApiErrorContext = {}) {
    super(code, message, context);
    this.retryable = context.retryable ?? false;
    if (context.status !== undefined) this.status = context.status;
    if (context.apiCode !== undefined) this.apiCode = context.apiCode;
    if (context.requestId !== undefined) this.requestId = context.requestId;
    if (context.attempts !== undefined) this.attempts = context.attempts;
    if (context.retryAfterMs !== undefined) this.retryAfterMs = context.retryAfterMs;
  }

  override toJSON(): Record<string, unknown> {
    const out = super.toJSON();
    for (const key of ['status', 'apiCode', 'requestId', 'attempts', 'retryAfterMs'] as const) {
      if (this[key] !== undefined) out[key] = this[key];
    }
    out.retryable = this.retryable;
    return out;
  }
}

/** The operation was aborted through its AbortSignal. */
export class AbortError extends BatchlineError {
  declare readonly code: 'ABORTED';

  constructor(message = 'The operation was aborted', context: ErrorContext = {}) {
    super('ABORTED', message, context);
  }
}

/** Throws an AbortError when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(abortMessage(signal));
}

export function abortMessage(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.message) return `The operation was aborted: ${reason.message}`;
  return 'The operation was aborted';
}
