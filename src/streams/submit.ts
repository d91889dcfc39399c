/**
 * The submit stage: uploaded shards in, submitted shards out (each with its
 * batch, created or adopted), several creates in flight, input order kept.
 * The logic per shard is `submitShard` in src/openai/submit.ts.
 */
import type { Duplex } from 'node:stream';
import type { SubmittedShard, UploadedShard } from '../types.ts';
import { resolveClient, type ApiClient, type ClientOptions } from '../openai/client.ts';
import { normalizeSubmitOptions, submitShard, type SubmitOptions } from '../openai/submit.ts';
import { checkConcurrency, createConcurrentMap } from './concurrent-map.ts';

export interface SubmitterOptions extends SubmitOptions {
  client?: ApiClient | ClientOptions | undefined;
  /** Creates in flight at once (default 4). */
  concurrency?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** The stage as a Duplex; `runId` is the run's id (generated when the options had none). */
export interface Submitter extends Duplex {
  readonly runId: string;
}

export const DEFAULT_SUBMIT_CONCURRENCY = 4;

export function createSubmitter(options: SubmitterOptions = {}): Submitter {
  const concurrency = checkConcurrency(options.concurrency, DEFAULT_SUBMIT_CONCURRENCY);
  const normalized = normalizeSubmitOptions(options);
  const client = resolveClient(options.client);
  const duplex = createConcurrentMap<UploadedShard, SubmittedShard>((shard, signal) => submitShard(client, shard, normalized, signal), {
    concurrency,
    signal: options.signal,
  }) as Submitter;
  Object.defineProperty(duplex, 'runId', { value: normalized.runId, enumerable: true });
  return duplex;
}
