/**
 * Finding the file an earlier attempt made when its answer was lost. A reset
 * or a cut-off reply after `POST /v1/files` (or after an upload's `complete`)
 * leaves the client unsure whether the file exists; a blind retry would make
 * a second one. So before trying again the upload looks for it: the newest
 * purpose-`batch` files, back to a point in time, with the shard's file name
 * and size, whose content hashes to the descriptor's sha256. Only a file
 * with exactly the shard's bytes is ever adopted, so a same-named file from
 * elsewhere is never taken for ours.
 *
 * These run inside an attempt of the caller's retried call and make their
 * requests with that attempt's options: a failure here fails the attempt,
 * and the one retry layer tries again. No retries of their own.
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { APIError } from 'openai';
import type { ApiClient, CallRequest } from './client.ts';
import type { FileObject, ListPage, ShardDescriptor } from '../types.ts';

/** How far back a search goes at most: files beyond are not looked at. */
export const MAX_FILES_SCANNED = 1000;
const PAGE_SIZE = 100;

/**
 * Whether a failed request may still have done its work: anything but an
 * HTTP answer below 500 (a connection reset, a timeout, a cut-off reply, a
 * server error that may have come after the action).
 */
export function mayHaveActed(err: unknown): boolean {
  const status = err instanceof APIError ? err.status : undefined;
  return typeof status !== 'number' || status >= 500;
}

/** One page of `GET /v1/files`, newest first. */
export function filePage(
  client: ApiClient,
  query: { purpose?: string | undefined; after?: string | undefined; limit: number; order?: 'asc' | 'desc' },
  request: CallRequest['options'],
): Promise<ListPage<FileObject>> {
  const params: Record<string, string | number> = { limit: query.limit, order: query.order ?? 'desc' };
  if (query.purpose !== undefined) params.purpose = query.purpose;
  if (query.after !== undefined) params.after = query.after;
  return client.sdk.get<ListPage<FileObject>>('/files', { query: params, ...request });
}

/** The sha256 of a stored file's content, streamed; undefined when the file is gone. */
export async function remoteSha256(client: ApiClient, fileId: string, request: CallRequest['options']): Promise<string | undefined> {
  let response: Response;
  try {
    response = await client.sdk.files.content(fileId, request);
  } catch (err) {
    if (err instanceof APIError && err.status === 404) return undefined;
    throw err;
  }
  const hash = createHash('sha256');
  if (response.body) {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
  }
  return hash.digest('hex');
}

export interface CopySearch {
  /** Only files created at or after this time (Unix seconds, the server's clock) are looked at. */
  sinceSeconds: number;
}

/**
 * The newest stored file holding exactly the shard's bytes under its file
 * name, created since `sinceSeconds`; undefined when there is none.
 */
export async function findUploadedCopy(
  client: ApiClient,
  shard: ShardDescriptor,
  search: CopySearch,
  request: CallRequest['options'],
): Promise<FileObject | undefined> {
  const filename = basename(shard.path);
  let after: string | undefined;
  for (let scanned = 0; scanned < MAX_FILES_SCANNED; ) {
    const page = await filePage(client, { purpose: 'batch', after, limit: PAGE_SIZE }, request);
    for (const file of page.data) {
      if (file.created_at < search.sinceSeconds) return undefined;
      if (file.filename !== filename || file.bytes !== shard.bytes || file.status === 'error') continue;
      if ((await remoteSha256(client, file.id, request)) === shard.sha256) return file;
    }
    scanned += page.data.length;
    const last = page.data.at(-1);
    if (!page.has_more || last === undefined) return undefined;
    after = last.id;
  }
  return undefined;
}
