/**
 * A JSONL file described as the sharder describes its shards: size, sha256
 * and md5 (the Uploads API checks the md5), line count, and the endpoint and
 * model of its first request — read in one streaming pass, never held whole.
 * What lets a file made elsewhere go through the upload stage.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { IoError } from '../errors.ts';
import { systemCode, systemReason } from './system-error.ts';
import type { BatchEndpoint, ShardDescriptor } from '../types.ts';

/** The first line is kept for its url and model only up to this many bytes. */
const FIRST_LINE_CAP = 1 << 20;

export async function describeFile(path: string, index: number, signal?: AbortSignal): Promise<ShardDescriptor> {
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  let bytes = 0;
  let breaks = 0;
  let lastByte = 10;
  const first: Buffer[] = [];
  let firstBytes = 0;
  let firstDone = false;
  try {
    for await (const chunk of createReadStream(path, { signal }) as AsyncIterable<Buffer>) {
      sha256.update(chunk);
      md5.update(chunk);
      bytes += chunk.length;
      lastByte = chunk[chunk.length - 1];
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) breaks++;
      if (!firstDone) {
        const end = chunk.indexOf(10);
        const part = end === -1 ? chunk : chunk.subarray(0, end);
        first.push(Buffer.from(part));
        firstBytes += part.length;
        firstDone = end !== -1 || firstBytes > FIRST_LINE_CAP;
      }
    }
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new IoError('INPUT_UNREADABLE', `cannot read ${path}: ${systemReason(err)}`, { path, syscallCode: systemCode(err), cause: err });
  }
  // A last line without its line break is a line too.
  const lines = breaks + (lastByte === 10 ? 0 : 1);
  const { endpoint, model } = firstRequest(Buffer.concat(first).toString('utf8'));
  return { index, path, bytes, requests: lines, endpoint, model, firstLine: 1, lastLine: lines, sha256: sha256.digest('hex'), md5: md5.digest('hex') };
}

/** The first request's url and model, or empty strings when it is not readable: the API checks the file. */
function firstRequest(text: string): { endpoint: BatchEndpoint; model: string } {
  try {
    const value = JSON.parse(text) as { url?: unknown; body?: { model?: unknown } };
    const endpoint = (typeof value?.url === 'string' ? value.url : '') as BatchEndpoint;
    return { endpoint, model: typeof value?.body?.model === 'string' ? value.body.model : '' };
  } catch {
    return { endpoint: '' as BatchEndpoint, model: '' };
  }
}
