/**
 * A finished batch's output and error files: as a stream of whole-line
 * chunks (`downloadResults`), or written to disk (`downloadFile`,
 * `downloadBatchFiles`) through a temp file in the same directory that is
 * fsynced and renamed into place, so a crash never leaves a half file under
 * the final name. Absent files (null or "" ids) are simply not there.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BatchlineError, invalidOption, IoError } from '../errors.ts';
import type { BatchObject, SubmittedShard } from '../types.ts';
import { systemCode, systemReason } from '../io/system-error.ts';
import { WriteBehind } from '../io/write-behind.ts';
import { fileIdOrNull, isTerminal, retrieveBatch } from './batches.ts';
import { resolveClient, type ApiClient, type ClientOptions } from './client.ts';
import { fetchFileLines, normalizeDownloadOptions, type DownloadOptions, type NormalizedDownloadOptions } from './download.ts';

/** A file being downloaded is flushed to disk in the background after every this many bytes. */
const SYNC_EVERY_BYTES = 32 * 1024 * 1024;

/** A batch to download: its object, a shard carrying it (submit/poll output), or its id. */
export type DownloadInput = BatchObject | SubmittedShard | string;

/** Whole lines of one result file: `data` ends with a line break (but a file's unterminated last line). */
export interface ResultChunk {
  kind: 'output' | 'error';
  batchId: string;
  fileId: string;
  shard?: number | undefined;
  data: Buffer;
}

export interface DownloadCallOptions extends DownloadOptions {
  client?: ApiClient | ClientOptions | undefined;
  signal?: AbortSignal | undefined;
}

/** The batch and shard an input names, fetching the batch when only its id is given; it must have ended. */
export async function resolveDownloadInput(client: ApiClient, input: DownloadInput, signal?: AbortSignal): Promise<{ batch: BatchObject; shard?: number | undefined }> {
  let batch: BatchObject;
  let shard: number | undefined;
  if (typeof input === 'string') batch = await retrieveBatch(client, input, { signal });
  else if (input && typeof input === 'object' && 'batchId' in input && input.batch) {
    batch = input.batch;
    shard = input.index;
  } else if (input && typeof input === 'object' && (input as BatchObject).object === 'batch') batch = input as BatchObject;
  else throw invalidOption('input', 'download takes a batch object, a submitted shard or a batch id');
  if (!isTerminal(batch)) {
    throw new BatchlineError('BATCH_NOT_FINISHED', `batch ${batch.id} is ${batch.status}: its result files exist once it has ended`, { batchId: batch.id, shard });
  }
  return { batch, shard };
}

/** The batch's files to read, output first; absent ones are left out. */
export function resultFiles(batch: BatchObject): Array<{ kind: 'output' | 'error'; fileId: string }> {
  const files: Array<{ kind: 'output' | 'error'; fileId: string }> = [];
  const output = fileIdOrNull(batch.output_file_id);
  const error = fileIdOrNull(batch.error_file_id);
  if (output) files.push({ kind: 'output', fileId: output });
  if (error) files.push({ kind: 'error', fileId: error });
  return files;
}

/** A finished batch's output lines, then its error lines, as whole-line chunks; never a whole file in memory. */
export async function* downloadResults(client: ApiClient | ClientOptions, input: DownloadInput, options: DownloadCallOptions = {}): AsyncGenerator<ResultChunk> {
  const api = resolveClient(options.client ?? client);
  yield* streamResults(api, input, normalizeDownloadOptions(options), options.signal);
}

export async function* streamResults(api: ApiClient, input: DownloadInput, options: NormalizedDownloadOptions, signal?: AbortSignal): AsyncGenerator<ResultChunk> {
  const { batch, shard } = await resolveDownloadInput(api, input, signal);
  for (const { kind, fileId } of resultFiles(batch)) {
    for await (const pieces of fetchFileLines(api, fileId, options, signal, { batchId: batch.id, shard })) {
      yield { kind, batchId: batch.id, fileId, shard, data: pieces.length === 1 ? pieces[0] : Buffer.concat(pieces) };
    }
  }
}

export interface DownloadedFile {
  fileId: string;
  path: string;
  bytes: number;
}

/**
 * Downloads a file to `path`: the bytes go to a temp file beside it, which is
 * fsynced and renamed into place, then the directory is fsynced. On failure
 * or abort the temp file is removed and `path` is untouched.
 */
export async function downloadFile(client: ApiClient | ClientOptions, fileId: string, path: string, options: DownloadCallOptions = {}): Promise<DownloadedFile> {
  const api = resolveClient(options.client ?? client);
  return writeFileAtomically(api, fileId, path, normalizeDownloadOptions(options), options.signal, {});
}

async function writeFileAtomically(
  api: ApiClient,
  fileId: string,
  path: string,
  options: NormalizedDownloadOptions,
  signal: AbortSignal | undefined,
  where: { batchId?: string | undefined; shard?: number | undefined },
): Promise<DownloadedFile> {
  if (typeof fileId !== 'string' || fileId.length === 0) throw invalidOption('fileId', 'fileId must name a file');
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const context = { fileId, ...where };
  let handle: FileHandle | undefined;
  let writer: WriteBehind | undefined;
  try {
    handle = await io(() => open(tmp, 'wx'), tmp, context);
    // The network is read while the disk writes (a write waits only when 256 KiB are queued) and
    // flushes, so the fsync below finds at most 32 MiB left (benchmarks/RESULTS.md, transport).
    const file = (writer = new WriteBehind(handle, { syncEveryBytes: SYNC_EVERY_BYTES }));
    for await (const pieces of fetchFileLines(api, fileId, options, signal, where)) await io(() => file.write(pieces), tmp, context);
    await io(() => file.flush(), tmp, context);
    const target = handle;
    await io(() => target.sync(), tmp, context);
    handle = undefined;
    await io(() => target.close(), tmp, context);
    await io(() => rename(tmp, path), path, context);
  } catch (err) {
    await writer?.settle();
    await handle?.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDirectory(dirname(path));
  return { fileId, path, bytes: writer.written };
}

async function io<T>(step: () => Promise<T>, path: string, context: { fileId?: string | undefined; batchId?: string | undefined; shard?: number | undefined }): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw new IoError('DOWNLOAD_WRITE_FAILED', `cannot write ${path}: ${systemReason(err)}`, { ...context, path, syscallCode: systemCode(err), cause: err });
  }
}

/** Makes a rename durable; a file system that cannot sync a directory (some network mounts) is let be. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync().catch(() => undefined);
  } finally {
    await handle.close();
  }
}

export interface DownloadedBatch {
  batch: BatchObject;
  shard?: number | undefined;
  /** `<batch id>_output.jsonl`, or null when the batch has no output file. */
  output: DownloadedFile | null;
  /** `<batch id>_error.jsonl`, or null when the batch has no error file. */
  error: DownloadedFile | null;
}

/** Writes a finished batch's files into `outDir` (created when missing) as `<batch id>_output.jsonl` and `<batch id>_error.jsonl`. */
export async function downloadBatchFiles(client: ApiClient | ClientOptions, input: DownloadInput, outDir: string, options: DownloadCallOptions = {}): Promise<DownloadedBatch> {
  const api = resolveClient(options.client ?? client);
  return saveBatchFiles(api, input, outDir, normalizeDownloadOptions(options), options.signal);
}

export async function saveBatchFiles(api: ApiClient, input: DownloadInput, outDir: string, options: NormalizedDownloadOptions, signal?: AbortSignal): Promise<DownloadedBatch> {
  if (typeof outDir !== 'string' || outDir.length === 0) throw invalidOption('outDir', 'outDir must name a directory');
  const { batch, shard } = await resolveDownloadInput(api, input, signal);
  await io(() => mkdir(outDir, { recursive: true }), outDir, { batchId: batch.id, shard });
  const result: DownloadedBatch = { batch, shard, output: null, error: null };
  for (const { kind, fileId } of resultFiles(batch)) {
    const path = join(outDir, `${batch.id}_${kind}.jsonl`);
    result[kind] = await writeFileAtomically(api, fileId, path, options, signal, { batchId: batch.id, shard });
  }
  return result;
}
