/**
 * The Files API: a shard uploaded in one `POST /v1/files` request whose
 * multipart body streams from the file (never held whole), and the small
 * helpers around it (retrieve, delete, list with cursor pagination).
 *
 * While the bytes stream they are counted and hashed; when they turn out not
 * to be the descriptor's (the shard changed on disk) the request is aborted
 * before its closing boundary, so the server never takes the form, and the
 * upload fails with SHARD_CHANGED.
 *
 * A lost answer (a reset or cut-off reply after the file was stored) is
 * handled by adoption: before the next attempt, the upload looks for a file
 * with the shard's name, size and sha256 created since it began
 * (file-copies.ts) and returns it instead of storing a second one.
 */
import { basename } from 'node:path';
import { ApiError, invalidOption } from '../errors.ts';
import { wholeNumberOption } from '../core/options.ts';
import type { ApiClient } from './client.ts';
import { filePage, findUploadedCopy, mayHaveActed } from './file-copies.ts';
import { multipartBody } from './multipart-body.ts';
import { SentBytes, ShardRangeReader, statShard, type UploadProgress } from './shard-source.ts';
import type { FileObject, ShardDescriptor } from '../types.ts';

/** The Files API takes at most 512 MB in one request. */
export const MAX_FILE_UPLOAD_BYTES = 512 * 1024 * 1024;
/** How far the local clock may run ahead of the server's for a lost file to still be found. */
const CLOCK_SKEW_SECONDS = 15 * 60;

export interface FileUploadOptions {
  /** Bytes of the shard sent so far: for a progress bar. */
  onProgress?: ((progress: UploadProgress) => void) | undefined;
}

/** The file name a shard is stored under: its own, which must end `.jsonl` for purpose `batch`. */
export function shardFilename(shard: ShardDescriptor): string {
  const name = basename(shard.path);
  if (!name.toLowerCase().endsWith('.jsonl')) {
    throw invalidOption('shard.path', `shard ${shard.index}: the Batch API takes only .jsonl files, got ${JSON.stringify(name)}`, { shard: shard.index });
  }
  return name;
}

/**
 * Uploads the shard with `POST /v1/files` (purpose `batch`), each attempt
 * reading the file afresh. Resolves with the stored file, whose size is the
 * descriptor's; fails with SHARD_CHANGED, an ApiError, or ABORTED.
 */
export async function uploadFile(client: ApiClient, shard: ShardDescriptor, options: FileUploadOptions = {}, signal?: AbortSignal): Promise<FileObject> {
  const filename = shardFilename(shard);
  await statShard(shard);
  const startedSeconds = Math.floor(Date.now() / 1000);
  const sent = new SentBytes(shard, options.onProgress);
  let mayExist = false;
  const file = await client.call(
    { operation: `upload shard ${shard.index}`, shard: shard.index },
    async ({ options: request }) => {
      if (mayExist) {
        const copy = await findUploadedCopy(client, shard, { sinceSeconds: startedSeconds - CLOCK_SKEW_SECONDS }, request);
        if (copy) return copy;
        mayExist = false;
      }
      sent.restart(0);
      const reader = new ShardRangeReader(shard, 0, shard.bytes, { verifyDigest: true, onBytes: (bytes) => sent.add(0, bytes) });
      const form = multipartBody({ purpose: 'batch' }, { field: 'file', filename, contentType: 'application/jsonl', content: reader.chunks() });
      try {
        return await client.streamingSdk.post<FileObject>('/files', { body: form.body, headers: { 'Content-Type': form.contentType }, ...request });
      } catch (err) {
        if (reader.failure) throw reader.failure;
        mayExist = mayHaveActed(err);
        throw err;
      } finally {
        await reader.close();
      }
    },
    signal,
  );
  if (file.bytes !== shard.bytes) {
    await deleteFile(client, file.id, signal).catch(() => false);
    throw new ApiError('UPLOAD_INCOMPLETE', `Shard ${shard.index}: the stored file ${file.id} holds ${file.bytes} bytes, the shard ${shard.bytes}; it was deleted`, {
      shard: shard.index,
      fileId: file.id,
    });
  }
  sent.finish();
  return file;
}

/**
 * A copy of the shard stored since `sinceMs` (ms since the epoch), found by
 * its file name, size and sha256, or undefined. For a process that resumes
 * after an upload whose answer it never recorded: the file is taken, not sent
 * again and left behind.
 */
export async function findStoredShard(client: ApiClient, shard: ShardDescriptor, sinceMs: number, signal?: AbortSignal): Promise<FileObject | undefined> {
  const sinceSeconds = Math.floor(sinceMs / 1000) - CLOCK_SKEW_SECONDS;
  return client.call({ operation: `find shard ${shard.index}`, shard: shard.index }, ({ options }) => findUploadedCopy(client, shard, { sinceSeconds }, options), signal);
}

function requireFileId(fileId: string): void {
  if (typeof fileId !== 'string' || fileId === '') throw invalidOption('fileId', `a file id must be a non-empty string, got ${JSON.stringify(fileId)}`);
}

/** The file object for `fileId`. */
export async function retrieveFile(client: ApiClient, fileId: string, signal?: AbortSignal): Promise<FileObject> {
  requireFileId(fileId);
  return client.call({ operation: `get file ${fileId}`, fileId }, ({ options }) => client.sdk.get<FileObject>(`/files/${encodeURIComponent(fileId)}`, options), signal);
}

/**
 * Deletes a file. Resolves false when there is nothing to delete: the id is
 * absent (null, undefined or "", as the API sends an absent file id) or the
 * file does not exist (any more: a retried delete whose first answer was lost).
 */
export async function deleteFile(client: ApiClient, fileId: string | null | undefined, signal?: AbortSignal): Promise<boolean> {
  if (fileId === null || fileId === undefined || fileId === '') return false;
  try {
    await client.call({ operation: `delete file ${fileId}`, fileId }, ({ options }) => client.sdk.files.delete(fileId, options), signal);
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return false;
    throw err;
  }
}

export interface ListFilesOptions {
  /** Only files of this purpose, e.g. `batch`. */
  purpose?: string | undefined;
  /** By creation time; default `desc` (newest first). */
  order?: 'asc' | 'desc' | undefined;
  /** Files per request, 1 … 10,000 (default 100). */
  pageSize?: number | undefined;
}

/** Every file, page by page (each page one retried request), following the `after` cursor. */
export async function* listFiles(client: ApiClient, options: ListFilesOptions = {}, signal?: AbortSignal): AsyncGenerator<FileObject> {
  const limit = wholeNumberOption(options.pageSize, 'pageSize', 100, 1, 10_000);
  let after: string | undefined;
  for (;;) {
    const query = { purpose: options.purpose, after, limit, order: options.order ?? 'desc' } as const;
    const page = await client.call({ operation: 'list files' }, ({ options: request }) => filePage(client, query, request), signal);
    yield* page.data;
    const last = page.data.at(-1);
    if (!page.has_more || last === undefined) return;
    after = last.id;
  }
}
