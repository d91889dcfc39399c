import { Transform, type TransformCallback } from 'node:stream';
import { BatchlineError, ValidationError } from '../errors.ts';
import { RequestChecker, type RequestCheckerOptions } from '../core/request-checker.ts';
import { checkRequestSpec, toRequest, type RequestSpec } from '../core/request-rules.ts';
import { SkippedLines, checkInvalidPolicy, type InvalidPolicy } from '../core/invalid-policy.ts';
import { DecodedLine, isParsedLine } from '../core/parsed-line.ts';
import type { BatchEndpoint, ParsedLine, ValidRequest } from '../types.ts';
import { destroyOnAbort } from './abortable.ts';

/** The checker's options (endpoint, routeByEndpoint, custom_id caps), and how rows and bad lines are handled. */
export interface ValidatorOptions<Row = unknown> extends RequestCheckerOptions {
  /** Build each request from a row first (database cursor, queue) with toRequest. */
  build?: RequestSpec<Row>;
  /** What to do with an invalid request. Default `'error'`: fail the pipeline with the first. */
  onInvalid?: InvalidPolicy;
  /** How many skipped lines keep their error in `stats.skippedErrors`. Default 1000. */
  maxReportedErrors?: number;
  signal?: AbortSignal;
}

export interface ValidateStats {
  /** Values seen. */
  values: number;
  /** Requests passed on. */
  requests: number;
  skipped: number;
  skippedErrors: BatchlineError[];
  /** The run's endpoint once known (undefined when routing by endpoint). */
  endpoint: BatchEndpoint | undefined;
  customIds: { count: number; memoryBytes: number };
}

/**
 * `{line, value, bytes}` → the same object once `value` is a valid Batch API
 * request: per-line rules, one endpoint per run, custom_ids unique across
 * the whole run (exact, in a compact index: see UniqueIdSet). Also takes
 * bare values (then numbered from 1): any object that is not the parser's
 * output is one, even a row with `line` and `value` fields of its own. A
 * request built with `build` loses `bytes`, so the sharder serialises it.
 */
export class RequestValidator<Row = unknown> extends Transform {
  private readonly checker: RequestChecker;
  private readonly skipped: SkippedLines;
  private readonly build: RequestSpec<Row> | undefined;
  private readonly routeByEndpoint: boolean;
  private bareLine = 0;
  private values = 0;
  private requests = 0;

  constructor(options: ValidatorOptions<Row> = {}) {
    super({ objectMode: true, highWaterMark: 64 });
    this.checker = new RequestChecker(options);
    this.routeByEndpoint = options.routeByEndpoint ?? false;
    this.skipped = new SkippedLines(checkInvalidPolicy(options.onInvalid), options.maxReportedErrors);
    if (options.build !== undefined) checkRequestSpec(options.build as RequestSpec<unknown>);
    this.build = options.build;
    destroyOnAbort(this, options.signal);
  }

  get stats(): ValidateStats {
    return {
      values: this.values,
      requests: this.requests,
      skipped: this.skipped.count,
      skippedErrors: this.skipped.errors,
      endpoint: this.routeByEndpoint ? undefined : this.checker.endpoint,
      customIds: this.checker.customIds,
    };
  }

  override _transform(chunk: unknown, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.values++;
    // Parser output is told by its class, not its shape: any other object is a bare value or row.
    const parsed = isParsedLine(chunk) ? chunk : { line: ++this.bareLine, value: chunk };
    try {
      const value = this.build ? this.buildRequest(parsed) : parsed.value;
      const request = this.checker.check(value, parsed.line);
      this.requests++;
      // A decoded line goes on as one, so its raw bytes are still made only if asked for.
      const out: ValidRequest =
        !this.build && parsed instanceof DecodedLine ? parsed.withValue(request) : { line: parsed.line, value: request };
      this.push(out);
      callback();
    } catch (err) {
      try {
        this.skipped.handle(err);
        callback();
      } catch (fatal) {
        callback(fatal as Error);
      }
    }
  }

  private buildRequest(parsed: ParsedLine): unknown {
    try {
      return toRequest(parsed.value as Row, this.build as RequestSpec<Row>);
    } catch (err) {
      throw new ValidationError('INVALID_ROW', `the row on line ${parsed.line} could not be made into a request: ${(err as Error).message}`, {
        line: parsed.line,
        cause: err,
      });
    }
  }
}

export function createValidator<Row = unknown>(options: ValidatorOptions<Row> = {}): RequestValidator<Row> {
  return new RequestValidator<Row>(options);
}

export { toRequest, type RequestSpec };
