/** The joiner's options, checked in one place, and the counts it keeps. */
import { invalidOption, type JoinError } from '../errors.ts';
import { DEFAULT_MAX_LINE_BYTES } from '../core/line-splitter.ts';
import type { ResultStatus } from '../types.ts';
import type { ByteSource } from './line-batches.ts';
import { wholeNumberOption } from '../core/options.ts';

/** A result file: a path, a Readable or an async iterable of bytes. Null, undefined and "" (absent file ids) are skipped. */
export type ResultSource = ByteSource | null | undefined;

export interface JoinOptions {
  /** The original input JSONL: a path (read twice), or a stream / async iterable (spooled to the temp dir). */
  input: ByteSource;
  /** Output and error files, in any order and any number. */
  results: readonly ResultSource[];
  /** Echo the original request as `request` on each result. */
  includeRequest?: boolean;
  /**
   * When given, unknown custom_ids and conflicting duplicates are reported
   * here and ignored (identical duplicates are reported too); without it they
   * are thrown.
   */
  onIssue?: (issue: JoinError) => void;
  /** Where the temp directory goes (default: os.tmpdir()). It is removed on success, error and abort. */
  tempDir?: string;
  /** Fewest input requests per partition (default 4,096). */
  partitionRequests?: number;
  /** Most partition files written at once (default 256). */
  maxPartitions?: number;
  /** Largest partition loaded into memory; larger ones are cut first (default 32 MiB). */
  maxPartitionBytes?: number;
  /** Memory shared by the spill write buffers (default 4 MiB). */
  spillBufferBytes?: number;
  /** Longest input or result line (default 200,000,000 bytes). */
  maxLineBytes?: number;
  /** Cap on custom_ids resolved by exact string after a hash collision (default 1,000,000). */
  maxAmbiguousIds?: number;
  signal?: AbortSignal;
}

export interface NormalizedJoinOptions {
  input: ByteSource;
  /** The given result sources, absent ones left out; `index` is the position given, `name` how messages call it. */
  results: Array<{ index: number; source: ByteSource; name: string }>;
  includeRequest: boolean;
  onIssue: ((issue: JoinError) => void) | undefined;
  tempDir: string | undefined;
  partitionRequests: number;
  maxPartitions: number;
  maxPartitionBytes: number;
  spillBufferBytes: number;
  maxLineBytes: number;
  maxAmbiguousIds: number;
  signal: AbortSignal | undefined;
}

export interface JoinStats extends Record<ResultStatus, number> {
  /** Input requests (non-blank input lines). */
  requests: number;
  /** Non-blank result lines read. */
  resultLines: number;
  /** Result lines repeated byte for byte (kept once). */
  duplicates: number;
  /** Result lines whose custom_id is not in the input (reported, ignored). */
  unknown: number;
  /** Second, different results for one custom_id (reported, ignored). */
  conflicting: number;
  partitions: number;
  /** Partitions cut again because they outgrew maxPartitionBytes. */
  splits: number;
  spilledBytes: number;
  indexBytes: number;
  tempDir: string | undefined;
}

export function newJoinStats(): JoinStats {
  return {
    requests: 0,
    resultLines: 0,
    succeeded: 0,
    failed: 0,
    rejected: 0,
    expired: 0,
    cancelled: 0,
    missing: 0,
    duplicates: 0,
    unknown: 0,
    conflicting: 0,
    partitions: 0,
    splits: 0,
    spilledBytes: 0,
    indexBytes: 0,
    tempDir: undefined,
  };
}

const whole = wholeNumberOption;

function isByteSource(value: unknown): value is ByteSource {
  return (
    typeof value === 'string' ||
    (value !== null && typeof value === 'object' && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function')
  );
}

export function normalizeJoinOptions(options: JoinOptions): NormalizedJoinOptions {
  if (!options || typeof options !== 'object') throw invalidOption('options', 'join options must be an object');
  if (!isByteSource(options.input) || options.input === '') {
    throw invalidOption('input', 'input must be a path, a Readable or an async iterable of bytes');
  }
  if (!Array.isArray(options.results)) throw invalidOption('results', 'results must be an array');
  const results: NormalizedJoinOptions['results'] = [];
  options.results.forEach((source, index) => {
    if (source === null || source === undefined || source === '') return;
    if (!isByteSource(source)) {
      throw invalidOption(`results[${index}]`, `results[${index}] must be a path, a Readable, an async iterable, null or ""`);
    }
    results.push({ index, source, name: typeof source === 'string' ? `results[${index}] (${source})` : `results[${index}]` });
  });
  if (options.onIssue !== undefined && typeof options.onIssue !== 'function') {
    throw invalidOption('onIssue', 'onIssue must be a function');
  }
  return {
    input: options.input,
    results,
    includeRequest: options.includeRequest === true,
    onIssue: options.onIssue,
    tempDir: options.tempDir,
    partitionRequests: whole(options.partitionRequests, 'partitionRequests', 4096, 1),
    maxPartitions: whole(options.maxPartitions, 'maxPartitions', 256, 1, 4096),
    maxPartitionBytes: whole(options.maxPartitionBytes, 'maxPartitionBytes', 32 << 20, 1024, 2 ** 31),
    spillBufferBytes: whole(options.spillBufferBytes, 'spillBufferBytes', 4 << 20, 1024),
    maxLineBytes: whole(options.maxLineBytes, 'maxLineBytes', DEFAULT_MAX_LINE_BYTES, 1),
    maxAmbiguousIds: whole(options.maxAmbiguousIds, 'maxAmbiguousIds', 1_000_000, 1),
    signal: options.signal,
  };
}
