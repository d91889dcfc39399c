/**
 * Every error code batchline reports, with its one-line meaning and the
 * error class that carries it: the one list the code's type, the error
 * classes' constructors and the README's error table are checked against.
 * `class: null` marks a code only the CLI prints, on no error object.
 */

export type ErrorClassName =
  | 'BatchlineError'
  | 'OptionError'
  | 'ParseError'
  | 'ValidationError'
  | 'LimitError'
  | 'OverflowError'
  | 'JoinError'
  | 'BatchFailedError'
  | 'IoError'
  | 'ApiError'
  | 'AbortError';

export interface ErrorCodeInfo {
  readonly class: ErrorClassName | null;
  readonly meaning: string;
}

export const ERROR_CODES = {
  // Options, commands, the run itself
  INVALID_OPTION: { class: 'OptionError', meaning: 'a bad option or flag, an unknown or retired flag, a missing or extra argument; `option` names it' },
  UNKNOWN_COMMAND: { class: null, meaning: 'the CLI has no command of that name' },
  UNEXPECTED: { class: null, meaning: 'an error without a code of its own reached the CLI (a bug)' },
  ABORTED: { class: 'AbortError', meaning: 'the AbortSignal fired' },
  INVALID_PRICE_TABLE: { class: 'OptionError', meaning: 'a price table (JSON object or file) with a bad key or value; `option` names the key' },
  // Files
  INPUT_UNREADABLE: { class: 'IoError', meaning: 'the input file cannot be opened or read' },
  OUTPUT_NOT_WRITABLE: { class: 'IoError', meaning: 'an output file cannot be made where it was asked for' },
  NOT_A_DIRECTORY: { class: 'IoError', meaning: 'a directory option names a file or a path through one' },
  IO_FAILED: { class: 'IoError', meaning: 'a file-system call failed during the work' },
  EMPTY_INPUT: { class: 'ValidationError', meaning: 'the input holds no request' },
  // Parsing
  LINE_TOO_LARGE: { class: 'LimitError', meaning: 'a line longer than maxLineBytes' },
  INVALID_JSON: { class: 'ParseError', meaning: 'a line that is not JSON' },
  MIXED_INPUT: { class: 'ParseError', meaning: 'bytes and objects fed to one parser' },
  SPLITTER_PAUSED: { class: 'BatchlineError', meaning: 'LineSplitter.push() called while a paused chunk is held' },
  // Request rules
  INVALID_REQUEST: { class: 'ValidationError', meaning: 'a line that is not a JSON object, or a request JSON cannot hold' },
  MISSING_CUSTOM_ID: { class: 'ValidationError', meaning: 'a request without custom_id' },
  INVALID_CUSTOM_ID: { class: 'ValidationError', meaning: 'a custom_id that is not a non-empty string' },
  DUPLICATE_CUSTOM_ID: { class: 'ValidationError', meaning: 'a custom_id used before in the run' },
  INVALID_METHOD: { class: 'ValidationError', meaning: 'a method other than POST' },
  UNSUPPORTED_ENDPOINT: { class: 'ValidationError', meaning: 'a url that is not one of the batch endpoints' },
  MIXED_ENDPOINTS: { class: 'ValidationError', meaning: 'a second endpoint in a run that allows one' },
  INVALID_BODY: { class: 'ValidationError', meaning: 'a body that is not an object' },
  MISSING_MODEL: { class: 'ValidationError', meaning: 'a body without model' },
  MISSING_BODY_FIELD: { class: 'ValidationError', meaning: "a body without its endpoint's messages, input or prompt" },
  INVALID_ROW: { class: 'ValidationError', meaning: 'build could not make a request from a row' },
  CUSTOM_ID_INDEX_FULL: { class: 'OverflowError', meaning: 'more custom_ids than maxCustomIds or maxCustomIdBytes' },
  // Sharding
  REQUEST_TOO_LARGE: { class: 'LimitError', meaning: 'one request larger than a shard may be' },
  TOO_MANY_EMBEDDING_INPUTS: { class: 'LimitError', meaning: 'one embeddings request with more inputs than a shard may hold' },
  SHARD_WRITE_FAILED: { class: 'IoError', meaning: 'a shard file could not be written' },
  SHARD_SIZE_MISMATCH: { class: 'BatchlineError', meaning: 'a shard file does not hold the planned bytes' },
  SHARD_DISCARDED: { class: 'BatchlineError', meaning: 'a shard was opened after the stream was destroyed' },
  SHARD_EXISTS: { class: 'IoError', meaning: 'a shard file of that name is already there' },
  // Joining
  INVALID_RESULT_LINE: { class: 'JoinError', meaning: "a result line without the Batch API's shape" },
  UNKNOWN_CUSTOM_ID: { class: 'JoinError', meaning: 'a result for a request that is not in the input' },
  DUPLICATE_RESULT: { class: 'JoinError', meaning: 'the same result line twice' },
  CONFLICTING_RESULT: { class: 'JoinError', meaning: 'two different results for one request' },
  JOIN_INDEX_OVERFLOW: { class: 'OverflowError', meaning: 'more requests than the join index holds' },
  JOIN_PARTITION_OVERFLOW: { class: 'OverflowError', meaning: "one request's results over the partition cap" },
  INPUT_CHANGED: { class: 'JoinError', meaning: "the input changed between the join's two reads" },
  SPILL_CORRUPT: { class: 'IoError', meaning: "a join temp file is shorter than what was written to it" },
  MISSING_RESULTS: { class: 'BatchlineError', meaning: 'some input request has no result' },
  // Sinks
  SINK_CLOSED: { class: 'BatchlineError', meaning: "a sink's output stream was closed or destroyed before every result was written" },
  SINK_CALLBACK_FAILED: { class: 'BatchlineError', meaning: "a sink's callback threw or rejected" },
  // Batches and the API
  BATCH_FAILED: { class: 'BatchFailedError', meaning: 'a batch ended failed (or expired or cancelled where completion was required)' },
  TOKEN_LIMIT_EXCEEDED: { class: 'BatchFailedError', meaning: "a batch failed on the account's enqueued-token limit" },
  MISSING_API_KEY: { class: 'OptionError', meaning: 'no OPENAI_API_KEY, apiKey or client' },
  API_BAD_REQUEST: { class: 'ApiError', meaning: 'the API answered 400' },
  API_UNAUTHORIZED: { class: 'ApiError', meaning: 'the API answered 401' },
  API_FORBIDDEN: { class: 'ApiError', meaning: 'the API answered 403' },
  API_NOT_FOUND: { class: 'ApiError', meaning: 'the API answered 404' },
  API_UNPROCESSABLE: { class: 'ApiError', meaning: 'the API answered 422' },
  API_TIMEOUT: { class: 'ApiError', meaning: 'the API answered 408, or a call timed out, after the retries ran out' },
  API_CONFLICT: { class: 'ApiError', meaning: 'the API answered 409 after the retries ran out' },
  API_RATE_LIMITED: { class: 'ApiError', meaning: 'the API answered 429 after the retries ran out' },
  API_SERVER_ERROR: { class: 'ApiError', meaning: 'the API answered 5xx after the retries ran out' },
  API_CONNECTION: { class: 'ApiError', meaning: 'the connection failed or broke off, after the retries ran out' },
  API_ERROR: { class: 'ApiError', meaning: 'any other failed API call' },
  INVALID_METADATA: { class: 'OptionError', meaning: "batch metadata the API or batchline's tags refuse" },
  INVALID_SHARD: { class: 'BatchlineError', meaning: 'an item that is not a shard descriptor (upload) or an uploaded shard (submit)' },
  BATCH_NOT_CANCELLABLE: { class: 'ApiError', meaning: 'the batch already ended completed, failed or expired' },
  BATCH_NOT_FINISHED: { class: 'BatchlineError', meaning: 'the batch has not ended: it has no result files yet' },
  DOWNLOAD_STALLED: { class: 'ApiError', meaning: 'a download sent nothing for idleTimeoutMs on every attempt' },
  DOWNLOAD_TRUNCATED: { class: 'ApiError', meaning: 'a download ended short of its length on every attempt' },
  DOWNLOAD_SIZE_MISMATCH: { class: 'ApiError', meaning: "a download longer than the file's bytes, or a size or range that does not match" },
  DOWNLOAD_WRITE_FAILED: { class: 'IoError', meaning: 'a downloaded file cannot be written' },
  SHARD_CHANGED: { class: 'IoError', meaning: 'a shard file is gone or no longer matches its descriptor' },
  SHARD_UNREADABLE: { class: 'IoError', meaning: 'a shard file cannot be opened or read' },
  UPLOAD_INCOMPLETE: { class: 'ApiError', meaning: "the stored file is not the shard's size, or an upload ended without a file" },
  // Runs (runBatch, batchline run)
  RUN_LOCKED: { class: 'BatchlineError', meaning: 'another live process runs from the same state directory' },
  RUN_OPTIONS_CHANGED: { class: 'BatchlineError', meaning: 'the state directory holds a run made with other options' },
  RUN_INPUT_CHANGED: { class: 'BatchlineError', meaning: 'the input differs (sha256) from the one the run in the state directory began with' },
  RUN_NOT_FOUND: { class: 'IoError', meaning: 'the state directory holds no run (no run.json)' },
  RUN_STATE_CORRUPT: { class: 'IoError', meaning: "a run's state directory holds a broken journal or header" },
  RUN_STATE_WRITE_FAILED: { class: 'IoError', meaning: "a run's journal or state files cannot be written" },
  // The emulator
  EMULATOR_STATE_CORRUPT: { class: 'IoError', meaning: "the emulator's state directory holds a broken record" },
  EMULATOR_STATE_WRITE_FAILED: { class: 'IoError', meaning: "the emulator's state cannot be written" },
  EMULATOR_INTERNAL_ERROR: { class: 'BatchlineError', meaning: "the emulator's background work failed" },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes the registry gives to one error class: what that class's constructor takes. */
export type ErrorCodeOf<C extends ErrorClassName> = {
  [K in ErrorCode]: (typeof ERROR_CODES)[K]['class'] extends C ? K : never;
}[ErrorCode];
