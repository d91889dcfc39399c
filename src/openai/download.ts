/**
 * Reading a file's content as runs of whole lines, surviving a bad network.
 * A body that stops sending for `idleTimeoutMs`, is reset, or ends short of
 * its length is read again: the request is restarted and the bytes already
 * handed on are skipped (or, with `useRange`, not sent: only for a server
 * known to honour Range — the OpenAI API's support for it is undocumented),
 * so no line is handed on twice or cut. Only bytes up to a line break leave
 * here, and a last line without one only once the whole body is in and its
 * size checked against the file's `bytes` (GET /v1/files/{id}).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortError, abortMessage, ApiError, invalidOption, type BatchlineError } from '../errors.ts';
import { retryDelayMs } from '../core/retry-policy.ts';
import { WholeLines } from '../core/whole-lines.ts';
import { wholeNumberOption } from '../core/options.ts';
import { toApiError, type CallTarget } from './api-error.ts';
import { bodyChunks, type BodyChunks } from './body-chunks.ts';
import { DIRECT_REQUEST } from './body-fetch.ts';
import type { ApiClient } from './client.ts';

export interface DownloadOptions {
  /** A body that sends nothing for this long is dropped and read again (default 60 s). */
  idleTimeoutMs?: number | undefined;
  /** Resume with a Range request instead of skipping bytes (default false: the server must honour Range). */
  useRange?: boolean | undefined;
  /** Check the bytes read against the file's size from GET /v1/files/{id} (default true). */
  verifySize?: boolean | undefined;
  /** The longest line carried between chunks (default 200,000,000 bytes); longer is LINE_TOO_LARGE. */
  maxLineBytes?: number | undefined;
}

export interface NormalizedDownloadOptions {
  idleTimeoutMs: number;
  useRange: boolean;
  verifySize: boolean;
  maxLineBytes: number;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_RESULT_LINE_BYTES = 200_000_000;

export function normalizeDownloadOptions(options: DownloadOptions = {}): NormalizedDownloadOptions {
  for (const name of ['useRange', 'verifySize'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'boolean') throw invalidOption(name, `${name} must be true or false`);
  }
  return {
    idleTimeoutMs: wholeNumberOption(options.idleTimeoutMs, 'idleTimeoutMs', DEFAULT_IDLE_TIMEOUT_MS, 1),
    useRange: options.useRange ?? false,
    verifySize: options.verifySize ?? true,
    maxLineBytes: wholeNumberOption(options.maxLineBytes, 'maxLineBytes', DEFAULT_MAX_RESULT_LINE_BYTES, 1),
  };
}

/** Where a download belongs, for its errors. */
export interface DownloadTarget {
  batchId?: string | undefined;
  shard?: number | undefined;
}

/** One attempt at the body: its bytes start at `start` of the file; `total` is the file's size where known. */
interface BodyAttempt {
  chunks: BodyChunks;
  start: number;
  total: number | undefined;
}

/**
 * The file's bytes as runs of whole lines, in order, each byte once: each run
 * is a list of pieces (WholeLines), whose last piece ends in a line break.
 * Retries body failures up to the client's `maxAttempts` in a row without
 * progress, waiting as its retry policy does; each request is also retried
 * by the client itself.
 */
export async function* fetchFileLines(
  client: ApiClient,
  fileId: string,
  options: NormalizedDownloadOptions,
  signal?: AbortSignal,
  where: DownloadTarget = {},
): AsyncGenerator<Buffer[]> {
  const target: CallTarget = { operation: 'download file', fileId, ...where };
  let expected: number | undefined;
  if (options.verifySize) {
    const file = await client.call({ ...target, operation: 'retrieve file' }, ({ options: request }) => client.sdk.files.retrieve(fileId, request), signal);
    expected = file.bytes;
  }
  const lines = new WholeLines(options.maxLineBytes);
  let delivered = 0;
  let failures = 0;
  for (;;) {
    const attempt = new AbortController();
    const attemptSignal = signal ? AbortSignal.any([signal, attempt.signal]) : attempt.signal;
    // A failure to get the response is final here: the client has already retried the request.
    const body = await openBody(client, fileId, target, delivered, expected, options.useRange, attemptSignal, signal);
    // One idle timer per attempt, armed only while a read is awaited (not while the reader of these lines is busy).
    let reading = false;
    let idle = false;
    const timer = setTimeout(function onIdle() {
      if (!reading) return;
      idle = true;
      attempt.abort();
    }, options.idleTimeoutMs);
    timer.unref();
    try {
      let position = body.start;
      for (;;) {
        reading = true;
        timer.refresh().ref();
        let next: Buffer | null;
        try {
          next = await body.chunks.next();
        } finally {
          reading = false;
          timer.unref();
        }
        if (next === null) break;
        let chunk = next;
        if (position < delivered) {
          const skip = Math.min(chunk.length, delivered - position);
          position += skip;
          chunk = chunk.subarray(skip);
        }
        if (chunk.length === 0) continue;
        position += chunk.length;
        if (body.total !== undefined && position > body.total) throw sizeError(target, `more than the file's ${body.total} bytes arrived`);
        const whole = lines.push(chunk);
        if (whole) {
          for (const piece of whole) delivered += piece.length;
          failures = 0;
          yield whole;
        }
      }
      if (body.total !== undefined && position < body.total) {
        throw new ApiError('DOWNLOAD_TRUNCATED', `${target.operation}: the body ended after ${position} of ${body.total} bytes`, { ...target, retryable: true });
      }
      const last = lines.flush();
      if (last) yield last;
      return;
    } catch (err) {
      attempt.abort();
      if (signal?.aborted) throw new AbortError(abortMessage(signal), { fileId, ...where });
      const failure = idle
        ? new ApiError('DOWNLOAD_STALLED', `${target.operation}: no bytes for ${options.idleTimeoutMs} ms`, { ...target, retryable: true })
        : toApiError(err, target);
      if (!(failure instanceof ApiError) || !failure.retryable) throw failure;
      failures++;
      if (failures >= client.policy.maxAttempts) {
        failure.attempts = failures;
        throw failure;
      }
      lines.reset();
      try {
        await sleep(retryDelayMs(client.policy, failures, undefined), undefined, { signal });
      } catch {
        throw new AbortError(signal ? abortMessage(signal) : 'The operation was aborted', { fileId, ...where });
      }
    } finally {
      // Done, failed or left early by the reader: never leave the response open.
      clearTimeout(timer);
      attempt.abort();
      body.chunks.cancel();
    }
  }
}

async function openBody(
  client: ApiClient,
  fileId: string,
  target: CallTarget,
  offset: number,
  expected: number | undefined,
  useRange: boolean,
  attemptSignal: AbortSignal,
  signal: AbortSignal | undefined,
): Promise<BodyAttempt> {
  const ranged = useRange && offset > 0;
  const response = await client.call(
    target,
    ({ options }) =>
      client.streamingSdk.files.content(fileId, {
        ...options,
        signal: attemptSignal,
        ...DIRECT_REQUEST,
        ...(ranged ? { headers: { range: `bytes=${offset}-` } } : {}),
      }),
    signal,
  );
  const chunks = bodyChunks(response);
  if (!chunks) throw new ApiError('DOWNLOAD_TRUNCATED', `${target.operation}: the response has no body`, { ...target, retryable: true });
  // The SDK's link from the attempt's signal to the request may be released with the response: stop the body here too.
  const stop = () => chunks.cancel();
  attemptSignal.addEventListener('abort', stop, { once: true });
  const length = headerNumber(response.headers.get('content-length'));
  let start = 0;
  if (ranged && response.status === 206) {
    const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(response.headers.get('content-range') ?? '');
    if (!range || Number(range[1]) !== offset) {
      chunks.cancel();
      throw sizeError(target, `asked for bytes from ${offset}, the server sent ${JSON.stringify(response.headers.get('content-range'))}`);
    }
    start = offset;
  }
  const announced = length === undefined ? undefined : start + length;
  if (expected !== undefined && announced !== undefined && announced !== expected) {
    chunks.cancel();
    throw sizeError(target, `the file has ${expected} bytes, the response announces ${announced}`);
  }
  return { chunks, start, total: expected ?? announced };
}

function headerNumber(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value);
}

/** The file does not match its own description: reading it again will not help. */
function sizeError(target: CallTarget, detail: string): BatchlineError {
  return new ApiError('DOWNLOAD_SIZE_MISMATCH', `${target.operation}: ${detail}`, { ...target, retryable: false });
}
