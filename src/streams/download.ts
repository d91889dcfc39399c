/**
 * The download stages. `createDownloader`: finished batches (objects,
 * shards or ids) in, the whole-line chunks of their output and error files
 * out (ResultChunk), one batch after another in input order, never a whole
 * file in memory. `createFileDownloader`: the same batches in, each one's
 * files written to `outDir` (temp file, fsync, rename), `concurrency` batches
 * at once, a DownloadedBatch out per batch. The logic is in
 * src/openai/download.ts and src/openai/results.ts.
 */
import { Duplex } from 'node:stream';
import { invalidOption } from '../errors.ts';
import { resolveClient, type ApiClient, type ClientOptions } from '../openai/client.ts';
import { normalizeDownloadOptions, type DownloadOptions } from '../openai/download.ts';
import { saveBatchFiles, streamResults, type DownloadedBatch, type DownloadInput } from '../openai/results.ts';
import { raceAbort, destroyOnAbort } from './abortable.ts';
import { checkConcurrency, createConcurrentMap } from './concurrent-map.ts';

export interface DownloaderOptions extends DownloadOptions {
  client?: ApiClient | ClientOptions | undefined;
  signal?: AbortSignal | undefined;
}

export interface FileDownloaderOptions extends DownloaderOptions {
  /** Where `<batch id>_output.jsonl` and `<batch id>_error.jsonl` go (created when missing). */
  outDir: string;
  /** Batches downloaded at once (default 2). */
  concurrency?: number | undefined;
}

export const DEFAULT_DOWNLOAD_CONCURRENCY = 2;

export function createDownloader(options: DownloaderOptions = {}): Duplex {
  const normalized = normalizeDownloadOptions(options);
  const client = resolveClient(options.client);
  const { signal } = options;
  const duplex = Duplex.from(async function* (source: AsyncIterable<DownloadInput>) {
    for await (const input of raceAbort(source, signal)) yield* streamResults(client, input, normalized, signal);
  });
  destroyOnAbort(duplex, signal);
  return duplex;
}

export function createFileDownloader(options: FileDownloaderOptions): Duplex {
  if (typeof options?.outDir !== 'string' || options.outDir.length === 0) throw invalidOption('outDir', 'outDir must name a directory');
  const concurrency = checkConcurrency(options.concurrency, DEFAULT_DOWNLOAD_CONCURRENCY);
  const normalized = normalizeDownloadOptions(options);
  const client = resolveClient(options.client);
  return createConcurrentMap<DownloadInput, DownloadedBatch>((input, signal) => saveBatchFiles(client, input, options.outDir, normalized, signal), {
    concurrency,
    signal: options.signal,
  });
}
