/**
 * runBatch's options, checked in one place, and what identifies a run: the
 * fingerprint of the options that shape its batches (a resumed run must have
 * the same) and the state dir derived from the input and those options when
 * none is given (so running the same command again resumes).
 */
import { createHash } from 'node:crypto';
import { basename, join, resolve } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { invalidOption } from '../errors.ts';
import { wholeNumberOption } from '../core/options.ts';
import type { RequestSpec } from '../core/request-rules.ts';
import type { TokenLimits } from '../core/token-scheduler.ts';
import type { PriceTable } from '../core/prices.ts';
import type { RunProgress } from '../core/run-progress.ts';
import type { ApiClient, ClientOptions } from '../openai/client.ts';
import type { OutputExpiresAfter } from '../openai/submit.ts';
import type { PollOptions } from '../openai/poll.ts';
import type { RequestSource } from '../streams/parse.ts';
import { SUPPORTED_ENDPOINTS, type BatchEndpoint, type BatchRequest, type JoinedResult } from '../types.ts';

/** Where joined results go: a JSONL file, a Writable (JSONL), or a callback awaited per result. */

/** The OpenAI API's own base URL: the fingerprint names it as no URL at all. */
const DEFAULT_API_URL = 'https://api.openai.com/v1';
export type RunSink = string | NodeJS.WritableStream | Writable | ((result: JoinedResult) => void | Promise<void>);

/** The emulator options a local run may set (a subset, so this module does not load the emulator). */
export interface LocalEmulatorOptions {
  batchDurationMs?: number;
  errorRate?: number;
  transientErrorRate?: number;
  faultRate?: number;
  tokenLimit?: number;
  seed?: number;
  [key: string]: unknown;
}

export interface RunOptions {
  /** A JSONL file path, `-` for stdin, a Readable, or an (async) iterable of requests, rows (with `build`) or JSONL text. */
  input: string | RequestSource;
  /** Builds each request from a row, for a source of rows (a database cursor, a queue). */
  build?: RequestSpec<any> | undefined;
  /** Where the joined results go (default: nowhere but the summary; they stay readable with joinResults). */
  output?: RunSink | undefined;
  /** Every request must use this endpoint; by default each endpoint gets shards of its own. */
  endpoint?: BatchEndpoint | undefined;
  /** Your batch metadata; batchline adds 3 tags of its own. */
  metadata?: Record<string, string> | undefined;
  completionWindow?: '24h' | undefined;
  outputExpiresAfter?: number | OutputExpiresAfter | undefined;
  /** Shard limits (default 200,000,000 bytes and 50,000 requests). */
  maxBytes?: number | undefined;
  maxRequests?: number | undefined;
  /** Shards uploading at once (default 4). */
  concurrency?: number | undefined;
  /** Tries per request, the first included: failed, expired, cancelled and missing requests go again in follow-up batches (default 3). */
  maxAttempts?: number | undefined;
  /** Retry requests the model rejected (4xx) too (default false: a 4xx answers the same again). */
  retryRejected?: boolean | undefined;
  /** Enqueued input tokens allowed per model: one number for all, or per model name (`*` for the rest). Default unlimited. */
  tokenLimit?: TokenLimits;
  /** The longest wait before a batch refused on the token limit is sent again (default 60 s; sooner when a batch of its model ends). */
  tokenLimitRetryMs?: number | undefined;
  /** The run's state dir (manifest, shards, results). Default: `.batchline/runs/<derived>` under the working directory. */
  stateDir?: string | undefined;
  /** The API: a client, client options, or by default OPENAI_API_KEY / OPENAI_BASE_URL. */
  client?: ApiClient | ClientOptions | undefined;
  baseURL?: string | undefined;
  apiKey?: string | undefined;
  /** Run against an emulator started in this process, its state kept in the state dir (no key needed). */
  local?: boolean | LocalEmulatorOptions | undefined;
  /** Validate, shard and estimate tokens (and cost) without any upload. */
  dryRun?: boolean | undefined;
  /**
   * Check every request before the first upload (default false: shards go out as they are written, and a
   * bad line late in the input stops the run after earlier batches were sent). A stream source is then
   * spooled whole first. Costs one more read of the input.
   */
  validateFirst?: boolean | undefined;
  /** Echo each request on its result. */
  includeRequest?: boolean | undefined;
  /** Poll timing (default: 1 s, backing off to 60 s; 5 requests a second for all batches). */
  poll?: Pick<PollOptions, 'initialDelayMs' | 'maxDelayMs' | 'maxRequestsPerSecond'> | undefined;
  /** Told the run's progress, at most every 100 ms. */
  onProgress?: ((progress: RunProgress) => void) | undefined;
  /** Told once the run has its id and state dir, before any work: where to find it, and whether it resumes. */
  onStart?: ((run: { runId: string; stateDir: string; resumed: boolean }) => void) | undefined;
  /** Told each line of log: the state dir, resumes, follow-ups. */
  onLog?: ((line: string) => void) | undefined;
  /** Prices for the cost estimate (default: the built-in table, Batch API prices; see loadPriceTable / readPriceFile). */
  prices?: PriceTable | undefined;
  /**
   * Input token estimate per request. Default: estimateRequestTokens' fast mode when `tokenLimit` is
   * set (the scheduler needs it), else none (`estimatedInputTokens` is then null; a dry run always counts).
   */
  estimateTokens?: ((request: BatchRequest) => number) | undefined;
  signal?: AbortSignal | undefined;
}

export interface NormalizedRunOptions {
  input: { kind: 'file'; path: string } | { kind: 'stream'; source: RequestSource };
  build: RequestSpec<unknown> | undefined;
  output: RunSink | undefined;
  endpoint: BatchEndpoint | undefined;
  metadata: Record<string, string> | undefined;
  outputExpiresAfter: number | OutputExpiresAfter | undefined;
  maxBytes: number | undefined;
  maxRequests: number | undefined;
  concurrency: number;
  maxAttempts: number;
  retryRejected: boolean;
  validateFirst: boolean;
  tokenLimit: TokenLimits;
  tokenLimitRetryMs: number;
  stateDir: string;
  local: LocalEmulatorOptions | null;
  dryRun: boolean;
  includeRequest: boolean;
  poll: RunOptions['poll'];
  /** What the fingerprint covers. */
  settings: Record<string, unknown>;
  fingerprint: string;
  options: RunOptions;
}

export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_RUN_CONCURRENCY = 4;
export const DEFAULT_TOKEN_LIMIT_RETRY_MS = 60_000;
export const RUNS_DIR = join('.batchline', 'runs');

function checkBoolean(value: unknown, name: string): boolean {
  if (value !== undefined && typeof value !== 'boolean') throw invalidOption(name, `${name} must be true or false`);
  return value === true;
}

function checkTokenLimit(value: unknown): TokenLimits {
  if (value === undefined) return undefined;
  if (typeof value === 'number') {
    if (!(value > 0)) throw invalidOption('tokenLimit', `tokenLimit must be a positive number, got ${value}`);
    return value;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidOption('tokenLimit', 'tokenLimit must be a number or an object of numbers per model');
  for (const [model, limit] of Object.entries(value)) {
    if (typeof limit !== 'number' || !(limit > 0)) throw invalidOption(`tokenLimit.${model}`, `tokenLimit.${model} must be a positive number, got ${JSON.stringify(limit)}`);
  }
  return value as Record<string, number>;
}

function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

export function normalizeRunOptions(options: RunOptions): NormalizedRunOptions {
  if (options === null || typeof options !== 'object') throw invalidOption('options', 'runBatch takes an options object');
  const { input } = options;
  let normalizedInput: NormalizedRunOptions['input'];
  if (typeof input === 'string' && input !== '-') {
    if (input.length === 0) throw invalidOption('input', 'input must name a file, or be - for stdin');
    normalizedInput = { kind: 'file', path: resolve(input) };
  } else if (input === '-') normalizedInput = { kind: 'stream', source: process.stdin };
  else if (input instanceof Readable || (input !== null && typeof input === 'object' && (Symbol.asyncIterator in input || Symbol.iterator in input))) {
    normalizedInput = { kind: 'stream', source: input as RequestSource };
  } else throw invalidOption('input', 'input must be a file path, -, a Readable or an (async) iterable');

  if (options.endpoint !== undefined && !(SUPPORTED_ENDPOINTS as readonly string[]).includes(options.endpoint)) {
    throw invalidOption('endpoint', `endpoint must be one of ${SUPPORTED_ENDPOINTS.join(', ')}, got ${JSON.stringify(options.endpoint)}`);
  }
  const output = options.output;
  if (output !== undefined && typeof output !== 'string' && typeof output !== 'function' && (output === null || typeof (output as Writable).write !== 'function')) {
    throw invalidOption('output', 'output must be a file path, a Writable or a function');
  }
  const local = options.local === undefined || options.local === false ? null : options.local === true ? {} : options.local;
  if (local !== null && typeof local !== 'object') throw invalidOption('local', 'local must be true, false or emulator options');
  if (options.completionWindow !== undefined && options.completionWindow !== '24h') {
    throw invalidOption('completionWindow', `completionWindow must be '24h', got ${JSON.stringify(options.completionWindow)}`);
  }
  for (const name of ['onProgress', 'onStart', 'onLog', 'estimateTokens'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw invalidOption(name, `${name} must be a function`);
  }
  const maxBytes = options.maxBytes === undefined ? undefined : wholeNumberOption(options.maxBytes, 'maxBytes', 0, 1);
  const maxRequests = options.maxRequests === undefined ? undefined : wholeNumberOption(options.maxRequests, 'maxRequests', 0, 1);
  const client = options.client;
  const clientBase = client === undefined ? undefined : 'sdk' in client ? client.sdk.baseURL : (client.baseURL ?? client.client?.baseURL);
  // The API the batches go to; the default one however it was named (an ApiClient always knows its URL).
  const named = options.baseURL ?? clientBase ?? process.env.OPENAI_BASE_URL ?? null;
  const baseURL = named === null || named.replace(/\/+$/, '') === DEFAULT_API_URL ? null : named;
  // The options that decide the batches: a resumed run must send what the first process would have.
  const settings: Record<string, unknown> = {
    input: normalizedInput.kind === 'file' ? normalizedInput.path : 'stream',
    endpoint: options.endpoint ?? null,
    metadata: options.metadata ?? null,
    outputExpiresAfter: options.outputExpiresAfter ?? null,
    maxBytes: maxBytes ?? null,
    maxRequests: maxRequests ?? null,
    api: local !== null ? 'local' : baseURL,
  };
  const fingerprint = hashOf(settings);
  if (options.stateDir !== undefined && (typeof options.stateDir !== 'string' || options.stateDir.length === 0)) throw invalidOption('stateDir', 'stateDir must name a directory');
  const name = normalizedInput.kind === 'file' ? basename(normalizedInput.path).replace(/[^\w.-]+/g, '_').slice(0, 48) : 'stream';
  const stateDir = options.stateDir === undefined ? resolve(RUNS_DIR, `${name}-${fingerprint.slice(0, 12)}`) : resolve(options.stateDir);
  return {
    input: normalizedInput,
    build: options.build,
    output,
    endpoint: options.endpoint,
    metadata: options.metadata,
    outputExpiresAfter: options.outputExpiresAfter,
    maxBytes,
    maxRequests,
    concurrency: wholeNumberOption(options.concurrency, 'concurrency', DEFAULT_RUN_CONCURRENCY, 1, 256),
    maxAttempts: wholeNumberOption(options.maxAttempts, 'maxAttempts', DEFAULT_MAX_ATTEMPTS, 1, 100),
    retryRejected: checkBoolean(options.retryRejected, 'retryRejected'),
    validateFirst: checkBoolean(options.validateFirst, 'validateFirst'),
    tokenLimit: checkTokenLimit(options.tokenLimit),
    tokenLimitRetryMs: wholeNumberOption(options.tokenLimitRetryMs, 'tokenLimitRetryMs', DEFAULT_TOKEN_LIMIT_RETRY_MS, 0),
    stateDir,
    local,
    dryRun: checkBoolean(options.dryRun, 'dryRun'),
    includeRequest: checkBoolean(options.includeRequest, 'includeRequest'),
    poll: options.poll,
    settings,
    fingerprint,
    options,
  };
}
