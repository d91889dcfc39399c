/**
 * batchline's public API: one factory (or one call) per stage, their options
 * and counts, the shapes requests and results take, and the errors. Engine
 * classes are exported as types only, for naming what a factory returns. The
 * emulator is its own entry, `batchline/emulator`, so that importing a stage
 * never loads an HTTP server.
 */

// Errors: every failure is a BatchlineError with a stable `code`.
export {
  BatchlineError,
  OptionError,
  ParseError,
  ValidationError,
  LimitError,
  OverflowError,
  JoinError,
  BatchFailedError,
  AbortError,
  IoError,
  ApiError,
  ERROR_CODES,
  type ErrorCode,
  type ErrorCodeInfo,
  type ErrorContext,
  type ApiErrorContext,
  type IoErrorContext,
  type BatchFailedContext,
} from './errors.ts';

// Shapes: requests, shards, results and the API's own objects.
export {
  SUPPORTED_ENDPOINTS,
  TERMINAL_BATCH_STATUSES,
  type BatchEndpoint,
  type BatchStatus,
  type BatchRequest,
  type ParsedLine,
  type ValidRequest,
  type ShardDescriptor,
  type UploadedShard,
  type SubmittedShard,
  type BatchResultLine,
  type ResultStatus,
  type JoinedResult,
  type BatchObject,
  type BatchErrorItem,
  type BatchUsage,
  type FileObject,
  type UploadObject,
  type UploadPartObject,
  type ListPage,
} from './types.ts';

// parse → validate → shard
export { createParser, parseSource, parseFile, type RequestParser, type ParserOptions, type ParseStats, type RequestSource } from './streams/parse.ts';
export { DEFAULT_MAX_LINE_BYTES } from './core/line-splitter.ts';
export type { DecodedLine } from './core/parsed-line.ts';
export type { InvalidPolicy } from './core/invalid-policy.ts';
export { createValidator, type RequestValidator, type ValidatorOptions, type ValidateStats } from './streams/validate.ts';
export { toRequest, checkRequest, REQUIRED_BODY_FIELDS, type RequestSpec } from './core/request-rules.ts';
export { DEFAULT_MAX_CUSTOM_IDS, DEFAULT_MAX_CUSTOM_ID_BYTES } from './core/unique-id-set.ts';
export { createSharder, type RequestSharder, type SharderOptions, type ShardStats, DEFAULT_WRITE_BUFFER_BYTES } from './streams/shard.ts';
export { DEFAULT_MAX_SHARD_BYTES, DEFAULT_MAX_SHARD_REQUESTS, DEFAULT_MAX_OPEN_SHARDS, type ShardLimits } from './core/shard-plan.ts';

// The API client: one retry layer over the openai SDK.
export { ApiClient, DEFAULT_TIMEOUT_MS, type ClientOptions, type RetryEvent } from './openai/client.ts';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './core/retry-policy.ts';

// upload → submit → poll → download
export { createUploader, uploadShards, DEFAULT_UPLOAD_CONCURRENCY, type UploaderOptions } from './streams/upload.ts';
export { DEFAULT_MULTIPART_THRESHOLD_BYTES, DEFAULT_PART_SIZE_BYTES, DEFAULT_PART_CONCURRENCY, type ShardUploadOptions } from './openai/upload-shard.ts';
export type { UploadProgress } from './openai/shard-source.ts';
export { retrieveFile, deleteFile, listFiles, type ListFilesOptions } from './openai/files.ts';
export { createSubmitter, type Submitter, type SubmitterOptions } from './streams/submit.ts';
export { submitBatch, newRunId, type SubmitOptions, type SubmitBatchOptions, type SubmittedBatch, type OutputExpiresAfter } from './openai/submit.ts';
export { createPoller, type PollerOptions, type PollInput, type PollOutput } from './streams/poll.ts';
export { waitForBatch, type PollOptions, type WaitOptions, type PollProgress, type PolledShard, type OnFailed } from './openai/poll.ts';
export { retrieveBatch, cancelBatch, listBatches, isTerminal, type BatchCallOptions, type ListBatchesOptions } from './openai/batches.ts';
export { createDownloader, createFileDownloader, type DownloaderOptions, type FileDownloaderOptions } from './streams/download.ts';
export type { DownloadOptions } from './openai/download.ts';
export {
  downloadResults,
  downloadFile,
  downloadBatchFiles,
  resultFiles,
  type DownloadInput,
  type DownloadCallOptions,
  type ResultChunk,
  type DownloadedFile,
  type DownloadedBatch,
} from './openai/results.ts';

// join → sink
export { joinResults, createJoiner, type JoinOptions, type JoinStats, type JoinIterable, type Joiner, type ResultSource } from './streams/join.ts';
export { resultStatus, parseResultLine } from './core/join/result-line.ts';
export { createJsonlSink, createCallbackSink, type JsonlSinkOptions, type CallbackSinkOptions } from './streams/sink.ts';

// The whole trip in one call: runBatch, resumable from its state dir.
export {
  runBatch,
  planRun,
  runStatus,
  cancelRun,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_RUN_CONCURRENCY,
  DEFAULT_TOKEN_LIMIT_RETRY_MS,
  type RunOptions,
  type RunSink,
  type LocalEmulatorOptions,
  type RunSummary,
  type RunBatchSummary,
  type UsageTotals,
  type DryRunSummary,
  type DryRunShard,
  type RunStatus,
  type CancelRunOptions,
  type CancelRunResult,
  type RunStore,
  type RunStep,
  type RunHeader,
  type UnitSpec,
} from './pipeline.ts';

// Tokens and cost: what a run's requests read, and what its usage costs at Batch API prices.
export {
  estimateRequestTokens,
  encodingForModel,
  type TokenEstimateMode,
  type TokenEstimateOptions,
  type TextTokenCounter,
  type Tokenizers,
  type EncodingName,
} from './core/token-estimate.ts';
export { loadTokenizers } from './core/tokenizers.ts';
export { estimateTokens } from './core/tokens.ts';
export {
  DEFAULT_PRICE_TABLE,
  loadPriceTable,
  priceFor,
  estimateCost,
  type PriceTable,
  type ModelPrice,
  type ModelUsage,
  type ModelCost,
  type CostEstimate,
} from './core/prices.ts';
export { readPriceFile, MAX_PRICE_FILE_BYTES } from './io/price-file.ts';
export type { RunProgress, RunPhase, UnitState } from './core/run-progress.ts';
