/**
 * The run's first leg: input file → parse → validate → shard into the state
 * dir, handing each shard to `onShard` as soon as it is sealed (so it can go
 * up while later shards are still being written), and the sha256 of the
 * input, taken from the same read. Sharding is deterministic: the same input
 * and limits give the same shards, byte for byte, which is what lets a run
 * that died mid-ingest shard again and recognise the shards it had already
 * sent.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ValidationError } from '../errors.ts';
import { stateWrite } from './file-store.ts';
import { pumpFile } from '../io/file-reader.ts';
import type { RequestSpec } from '../core/request-rules.ts';
import type { RequestSource } from '../streams/parse.ts';
import { spoolSource } from './source.ts';
import { createParser } from '../streams/parse.ts';
import { createValidator } from '../streams/validate.ts';
import { createSharder } from '../streams/shard.ts';
import type { BatchEndpoint, BatchRequest, ShardDescriptor, ValidRequest } from '../types.ts';
import { placeRequest, ShardPlan } from '../core/shard-plan.ts';

export const SHARD_DIR = 'shards';
const READ_CHUNK_BYTES = 128 * 1024;

export interface IngestOptions {
  endpoint: BatchEndpoint | undefined;
  maxBytes: number | undefined;
  maxRequests: number | undefined;
  /** Given, each shard carries the estimated input tokens of its requests. */
  estimateTokens: ((request: BatchRequest) => number) | undefined;
  /** Shard files (relative to the state dir) that recorded units still use: left in place. */
  keep: ReadonlySet<string>;
  signal: AbortSignal;
  /** A stream source: read once, written to the input path (the spool) and sharded as it comes. */
  source?: { items: RequestSource; build: RequestSpec<unknown> | undefined } | undefined;
}

export interface IngestResult {
  inputSha256: string;
  inputBytes: number;
  requests: number;
  shards: number;
}

/** Removes the shard files an interrupted ingest left that no recorded unit uses (follow-up files stay). */
async function clearShards(dir: string, keep: ReadonlySet<string>): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const stale = names.filter((name) => name.startsWith('shard-') && !keep.has(`${SHARD_DIR}/${name}`));
  await Promise.all(stale.map((name) => stateWrite(join(dir, name), rm(join(dir, name), { force: true }))));
}

export async function ingestFile(
  inputPath: string,
  stateDir: string,
  options: IngestOptions,
  onShard: (shard: ShardDescriptor) => Promise<void>,
): Promise<IngestResult> {
  const shardDir = join(stateDir, SHARD_DIR);
  await stateWrite(shardDir, mkdir(shardDir, { recursive: true }));
  await clearShards(shardDir, options.keep);
  const hash = createHash('sha256');
  let inputBytes = 0;
  const { signal } = options;
  // A prefix of its own per ingest, so shards of an earlier, interrupted ingest that units still use are never overwritten.
  const prefix = `shard-${randomBytes(3).toString('hex')}`;
  const sharder = createSharder({ dir: shardDir, prefix, maxBytes: options.maxBytes, maxRequests: options.maxRequests, estimateTokens: options.estimateTokens, signal });
  let spooled: { sha256: string; bytes: number } | undefined;
  await validatedInto(
    options,
    (parser) =>
      options.source
        ? spoolSource(options.source.items, inputPath, options.source.build, signal, parser).then((result) => void (spooled = result))
        : pumpFile(inputPath, parser, {
            chunkBytes: READ_CHUNK_BYTES,
            onChunk: (chunk) => {
              hash.update(chunk);
              inputBytes += chunk.length;
            },
          }),
    [
      sharder,
      new Writable({
        objectMode: true,
        highWaterMark: 1,
        write(shard: ShardDescriptor, _encoding, done) {
          onShard(shard).then(() => done(), done);
        },
      }),
    ],
  );
  const { shards, requests } = sharder.stats;
  if (requests === 0) throw new ValidationError('EMPTY_INPUT', `the input ${inputPath} holds no request`);
  return spooled
    ? { inputSha256: spooled.sha256, inputBytes: spooled.bytes, requests, shards }
    : { inputSha256: hash.digest('hex'), inputBytes, requests, shards };
}

/**
 * Parses and validates the whole input and plans its shards, sending and
 * writing nothing: the first bad line, or a request no shard can hold,
 * fails it, coded, before any batch exists (runBatch's `validateFirst`).
 */
export async function validateInput(inputPath: string, options: Pick<IngestOptions, 'endpoint' | 'maxBytes' | 'maxRequests' | 'signal'>): Promise<void> {
  const plan = new ShardPlan({ maxBytes: options.maxBytes, maxRequests: options.maxRequests });
  let requests = 0;
  const planner = new Writable({
    objectMode: true,
    write(request: ValidRequest, _encoding, done) {
      try {
        placeRequest(plan, request);
        requests++;
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
  await validatedInto(options, (parser) => pumpFile(inputPath, parser, { chunkBytes: READ_CHUNK_BYTES }), [planner]);
  if (requests === 0) throw new ValidationError('EMPTY_INPUT', `the input ${inputPath} holds no request`);
}

/**
 * The input's bytes, as `pump` writes them into the parser, through parse →
 * validate → `rest`. The pump and the pipeline end together: a failure of
 * either stops both, and nothing reads the input or writes the state dir
 * after this returns.
 */
async function validatedInto(options: Pick<IngestOptions, 'endpoint' | 'signal'>, pump: (parser: Writable) => Promise<void>, rest: Writable[]): Promise<void> {
  const { signal } = options;
  const parser = createParser({ signal });
  const validator = createValidator({ endpoint: options.endpoint, routeByEndpoint: options.endpoint === undefined, signal });
  const pumped = pump(parser);
  pumped.catch((err: unknown) => {
    if (!parser.destroyed) parser.destroy(err as Error);
  });
  try {
    await pipeline([parser, validator, ...rest], { signal });
  } catch (err) {
    await pumped.catch(() => undefined);
    throw err;
  }
  await pumped;
}
