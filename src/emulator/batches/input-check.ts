/**
 * Validates a batch input file the way the service does: line by line,
 * streamed from the file store, never the whole file as one string. Every
 * problem becomes a `BatchError` item with its 1-based line, and a file with
 * any problem fails the batch.
 */
import { MAX_BATCH_EMBEDDING_INPUTS } from '../../core/embedding-inputs.ts';
import { LineSplitter, isBlank } from '../../core/line-splitter.ts';
import { AbortError, BatchlineError } from '../../errors.ts';
import type { BatchEndpoint, BatchErrorItem } from '../../types.ts';
import { planRequest } from '../answers/responder.ts';
import type { PlanOptions, RequestPlan } from '../answers/request-plan.ts';
import type { FileStore } from '../store/file-store.ts';

export const MAX_BATCH_REQUESTS = 50_000;
export const MAX_BATCH_INPUT_BYTES = 200_000_000;
/** The service lists a bounded number of line errors; past this the check stops reading. */
export const MAX_REPORTED_ERRORS = 100;

export type InputCheckResult =
  | { ok: true; model: string; plans: RequestPlan[]; inputTokens: number; bytes: number }
  | { ok: false; errors: BatchErrorItem[] };

export interface InputCheckOptions extends PlanOptions {
  signal?: AbortSignal;
  maxErrors?: number;
  maxRequests?: number;
  maxBytes?: number;
}

/**
 * The per-line rules, with no I/O: feed it lines in order, then ask for the
 * result. Kept apart from the streaming so it can be tested line by line.
 */
export class InputChecker {
  readonly errors: BatchErrorItem[] = [];
  readonly plans: RequestPlan[] = [];
  private readonly seen = new Set<string>();
  private readonly endpoint: BatchEndpoint;
  private readonly options: PlanOptions;
  private readonly maxErrors: number;
  private readonly maxRequests: number;
  private model: string | null = null;
  private modelLine = 0;
  private requests = 0;
  private inputTokens = 0;
  private embeddingInputs = 0;
  private overCount = false;

  constructor(endpoint: BatchEndpoint, options: PlanOptions & { maxErrors?: number; maxRequests?: number }) {
    this.endpoint = endpoint;
    this.options = { seed: options.seed, errorRate: options.errorRate, transientErrorRate: options.transientErrorRate, batchId: options.batchId };
    this.maxErrors = options.maxErrors ?? MAX_REPORTED_ERRORS;
    this.maxRequests = options.maxRequests ?? MAX_BATCH_REQUESTS;
  }

  /** True once enough errors are known that reading on would only lengthen a list nobody reads. */
  get full(): boolean {
    return this.overCount || this.errors.length >= this.maxErrors;
  }

  addError(code: string, message: string, param: string | null, line: number | null): void {
    if (this.errors.length < this.maxErrors) this.errors.push({ code, message, param, line });
  }

  pushLine(bytes: Buffer, line: number): void {
    this.requests++;
    if (this.requests === this.maxRequests + 1) {
      this.addError('too_many_tasks', `The batch input file has more than the maximum of ${this.maxRequests} requests.`, null, line);
      this.overCount = true;
      return;
    }
    if (isBlank(bytes)) {
      this.addError('invalid_json_line', 'This line is empty; every line must be one JSON request object.', null, line);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch {
      this.addError('invalid_json_line', 'This line is not parseable as valid JSON.', null, line);
      return;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.addError('invalid_json_line', 'This line is valid JSON but not a JSON object.', null, line);
      return;
    }
    this.checkRequest(value as Record<string, unknown>, line);
  }

  private checkRequest(request: Record<string, unknown>, line: number): void {
    const customId = request.custom_id;
    if (typeof customId !== 'string' || customId.length === 0) {
      this.addError('missing_required_parameter', 'Missing required parameter: custom_id (a non-empty string).', 'custom_id', line);
    } else if (this.seen.has(customId)) {
      this.addError(
        'duplicate_custom_id',
        `The custom_id ${JSON.stringify(customId)} is a duplicate of another request. The custom_id parameter must be unique for each request in a batch.`,
        'custom_id',
        line,
      );
    } else {
      this.seen.add(customId);
    }
    if (request.method === undefined) {
      this.addError('missing_required_parameter', 'Missing required parameter: method.', 'method', line);
    } else if (request.method !== 'POST') {
      this.addError('invalid_method', `The method for this request must be POST, not ${JSON.stringify(request.method)}.`, 'method', line);
    }
    if (request.url === undefined) {
      this.addError('missing_required_parameter', 'Missing required parameter: url.', 'url', line);
    } else if (request.url !== this.endpoint) {
      this.addError('url_mismatch', `The URL ${JSON.stringify(request.url)} of this request does not match the batch endpoint ${this.endpoint}.`, 'url', line);
    }
    const body = request.body;
    if (body === undefined || body === null) {
      this.addError('missing_required_parameter', 'Missing required parameter: body.', 'body', line);
    } else if (typeof body !== 'object' || Array.isArray(body)) {
      this.addError('invalid_value', 'The body of this request must be a JSON object.', 'body', line);
    } else {
      const model = (body as Record<string, unknown>).model;
      if (typeof model !== 'string' || model.length === 0) {
        this.addError('missing_required_parameter', 'Missing required parameter: body.model.', 'body.model', line);
      } else if (this.model === null) {
        this.model = model;
        this.modelLine = line;
      } else if (model !== this.model) {
        this.addError(
          'model_mismatch',
          `The model ${JSON.stringify(model)} of this request does not match the model ${JSON.stringify(this.model)} of line ${this.modelLine}; a batch uses one model.`,
          'body.model',
          line,
        );
      }
    }
    // Plans are only worth building while the file can still pass.
    if (this.errors.length === 0) {
      const plan = planRequest(this.endpoint, customId as string, line, body as Record<string, unknown>, this.options);
      this.inputTokens += plan.inputTokens;
      this.plans.push(plan);
      if (this.endpoint === '/v1/embeddings') this.countEmbeddingInputs(plan.inputCount, line);
    }
  }

  /**
   * The spec's 50,000 embedding inputs per batch, summed over its requests.
   * The live service's code and message for it are not recorded; the error
   * names the line whose inputs crossed the limit.
   */
  private countEmbeddingInputs(inputs: number, line: number): void {
    this.embeddingInputs += inputs;
    if (this.embeddingInputs > MAX_BATCH_EMBEDDING_INPUTS) {
      this.addError(
        'too_many_embedding_inputs',
        `The batch holds more than the maximum of ${MAX_BATCH_EMBEDDING_INPUTS} embedding inputs across its requests (${this.embeddingInputs} by this line).`,
        'body.input',
        line,
      );
      this.overCount = true;
    }
  }

  result(bytes: number): InputCheckResult {
    if (this.errors.length === 0 && this.requests === 0) {
      this.addError('empty_file', 'The batch input file is empty.', null, null);
    }
    if (this.errors.length > 0) return { ok: false, errors: this.errors };
    return { ok: true, model: this.model as string, plans: this.plans, inputTokens: this.inputTokens, bytes };
  }
}

/** Streams a stored input file through the line rules. Rejects only on abort; every file problem is a result. */
export async function checkInputFile(
  store: FileStore,
  fileId: string,
  endpoint: BatchEndpoint,
  options: InputCheckOptions,
): Promise<InputCheckResult> {
  const maxBytes = options.maxBytes ?? MAX_BATCH_INPUT_BYTES;
  const file = store.get(fileId);
  if (!file) {
    return { ok: false, errors: [{ code: 'invalid_file', message: `The input file ${fileId} no longer exists.`, param: 'input_file_id', line: null }] };
  }
  if (file.bytes > maxBytes) {
    return {
      ok: false,
      errors: [{ code: 'file_too_large', message: `The batch input file is ${file.bytes} bytes, over the maximum of ${maxBytes} bytes.`, param: 'input_file_id', line: null }],
    };
  }
  const checker = new InputChecker(endpoint, options);
  const splitter = new LineSplitter(maxBytes, (bytes, line) => checker.pushLine(bytes, line));
  const stream = store.read(fileId);
  let bytes = 0;
  try {
    for await (const chunk of stream) {
      if (options.signal?.aborted) throw new AbortError('input check aborted');
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      bytes += buffer.length;
      if (bytes > maxBytes) {
        checker.addError('file_too_large', `The batch input file is over the maximum of ${maxBytes} bytes.`, 'input_file_id', null);
        break;
      }
      splitter.push(buffer);
      if (checker.full) break;
    }
    if (!checker.full && bytes <= maxBytes) splitter.end();
  } catch (err) {
    if (err instanceof AbortError) throw err;
    if (err instanceof BatchlineError && err.code === 'LINE_TOO_LARGE') {
      checker.addError('file_too_large', err.message, null, err.line ?? null);
    } else {
      checker.addError('invalid_file', `The input file could not be read: ${(err as Error).message}`, 'input_file_id', null);
    }
  } finally {
    stream.destroy();
  }
  return checker.result(bytes);
}
