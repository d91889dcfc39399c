/**
 * Healing a finished batch: which of its requests have a final answer
 * (succeeded, or rejected by the model unless those are retried too) and
 * which go again in a follow-up batch (failed, expired, cancelled, or with no
 * result line at all). The follow-up's file is cut from the unit's own file,
 * so its lines are the original bytes. A batch that failed as a whole gets an
 * error line per request written here, so that a request whose attempts run
 * out still shows why in the joined results.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { IoError } from '../errors.ts';
import { customIdOf, customIdText } from '../core/join/custom-id.ts';
import { parseResultLine, plainSuccessSpans, resultStatus } from '../core/join/result-line.ts';
import { readLineChunks } from '../io/file-reader.ts';
import { writeAll } from '../io/write-all.ts';
import { systemCode, systemReason } from '../io/system-error.ts';
import type { BatchRequest, ResultStatus } from '../types.ts';

export const MAX_LINE_BYTES = 200_000_000;
const WRITE_CHUNK_BYTES = 256 * 1024;

/** Each whole line of a file, without its line break; a view valid until the next one. */
export async function* fileLines(path: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
  for await (const chunk of readLineChunks(path, { maxLineBytes: MAX_LINE_BYTES, signal })) {
    let start = 0;
    for (;;) {
      const end = chunk.indexOf(10, start);
      if (end === -1) {
        if (start < chunk.length) yield chunk.subarray(start);
        break;
      }
      let stop = end;
      if (stop > start && chunk[stop - 1] === 13) stop--;
      if (stop > start) yield chunk.subarray(start, stop);
      start = end + 1;
    }
  }
}

function ioFailure(code: 'IO_FAILED', path: string, err: unknown): IoError {
  return new IoError(code, `cannot write ${path}: ${systemReason(err)}`, { path, syscallCode: systemCode(err), cause: err });
}

/** Writes lines to a new file with digests as it goes, fsynced before it resolves. */
class DigestFile {
  readonly sha256 = createHash('sha256');
  readonly md5 = createHash('md5');
  bytes = 0;
  lines = 0;
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  readonly path: string;
  private readonly handle: FileHandle;

  private constructor(path: string, handle: FileHandle) {
    this.path = path;
    this.handle = handle;
  }

  static async create(path: string): Promise<DigestFile> {
    try {
      return new DigestFile(path, await open(path, 'w'));
    } catch (err) {
      throw ioFailure('IO_FAILED', path, err);
    }
  }

  async line(bytes: Buffer): Promise<void> {
    const copy = Buffer.allocUnsafe(bytes.length + 1);
    bytes.copy(copy);
    copy[bytes.length] = 10;
    this.sha256.update(copy);
    this.md5.update(copy);
    this.bytes += copy.length;
    this.lines++;
    this.#pending.push(copy);
    this.#pendingBytes += copy.length;
    if (this.#pendingBytes >= WRITE_CHUNK_BYTES) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const data = Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    try {
      await writeAll(this.handle, [data]);
    } catch (err) {
      throw ioFailure('IO_FAILED', this.path, err);
    }
  }

  async close(): Promise<{ bytes: number; lines: number; sha256: string; md5: string }> {
    try {
      await this.#flush();
      await this.handle.sync();
    } finally {
      await this.handle.close();
    }
    return { bytes: this.bytes, lines: this.lines, sha256: this.sha256.digest('hex'), md5: this.md5.digest('hex') };
  }

  async discard(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

/**
 * The status each custom_id's result line gives it, over a unit's result
 * files. An output file's line that plainly reads as a success (a 200 and no
 * error, as nearly every output line does) is taken by its custom_id alone;
 * every other line is parsed whole.
 */
export async function readStatuses(files: ReadonlyArray<{ path: string; output: boolean }>, signal?: AbortSignal): Promise<Map<string, Exclude<ResultStatus, 'missing'>>> {
  const statuses = new Map<string, Exclude<ResultStatus, 'missing'>>();
  for (const { path, output } of files) {
    let line = 0;
    for await (const bytes of fileLines(path, signal)) {
      line++;
      if (output && plainSuccessSpans(bytes) !== null) {
        const id = customIdOf(bytes, true);
        if (id) {
          statuses.set(customIdText(id), 'succeeded');
          continue;
        }
      }
      const result = parseResultLine(bytes, { source: path, line });
      statuses.set(result.custom_id, resultStatus(result));
    }
  }
  return statuses;
}

export interface FollowUpFile {
  bytes: number;
  requests: number;
  sha256: string;
  md5: string;
  tokens: number;
  firstLine: number;
  lastLine: number;
}

export interface RetryPlan {
  /** Requests of the unit that go again. */
  retry: number;
  /** Their file, when one was written. */
  file: FollowUpFile | null;
}

/** The statuses that mean "try again": nothing final came back. */
export function shouldRetry(status: ResultStatus, retryRejected: boolean): boolean {
  return status === 'failed' || status === 'expired' || status === 'cancelled' || status === 'missing' || (status === 'rejected' && retryRejected);
}

/**
 * Cuts the lines of `unitPath` whose requests should go again into `outPath`
 * (when given), and counts them. The follow-up keeps the unit's first and
 * last input line (`span`).
 */
export async function planRetry(
  unitPath: string,
  statuses: ReadonlyMap<string, Exclude<ResultStatus, 'missing'>>,
  options: {
    retryRejected: boolean;
    outPath: string | null;
    estimateTokens: ((request: BatchRequest) => number) | undefined;
    span: { firstLine: number; lastLine: number };
    signal?: AbortSignal | undefined;
  },
): Promise<RetryPlan> {
  const out = options.outPath === null ? null : await DigestFile.create(options.outPath);
  let retry = 0;
  let tokens = 0;
  try {
    for await (const bytes of fileLines(unitPath, options.signal)) {
      const id = customIdOf(bytes, true);
      const customId = id ? customIdText(id) : '';
      const status = statuses.get(customId) ?? 'missing';
      if (!shouldRetry(status, options.retryRejected)) continue;
      retry++;
      if (out) {
        await out.line(bytes);
        if (options.estimateTokens) tokens += options.estimateTokens(JSON.parse(bytes.toString('utf8')) as BatchRequest);
      }
    }
  } catch (err) {
    await out?.discard();
    throw err;
  }
  if (!out) return { retry, file: null };
  const written = await out.close();
  if (written.lines === 0) return { retry, file: null };
  return {
    retry,
    file: { bytes: written.bytes, requests: written.lines, sha256: written.sha256, md5: written.md5, tokens, ...options.span },
  };
}

/** Writes one error line per request of `unitPath` into `outPath`: the answer of a batch that failed as a whole. */
export async function writeFailedLines(unitPath: string, outPath: string, error: { code: string; message: string }, signal?: AbortSignal): Promise<void> {
  const out = await DigestFile.create(outPath);
  try {
    let n = 0;
    for await (const bytes of fileLines(unitPath, signal)) {
      const id = customIdOf(bytes, true);
      const customId = id ? customIdText(id) : '';
      await out.line(Buffer.from(JSON.stringify({ id: `batchline_failed_${++n}`, custom_id: customId, response: null, error })));
    }
  } catch (err) {
    await out.discard();
    throw err;
  }
  await out.close();
}
