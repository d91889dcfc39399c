import { invalidOption, ValidationError } from '../errors.ts';
import { SUPPORTED_ENDPOINTS, type BatchEndpoint, type BatchRequest } from '../types.ts';
import { UniqueIdSet } from './unique-id-set.ts';
import { checkRequest, isSupportedEndpoint } from './request-rules.ts';
import { wholeNumberOption } from './options.ts';

export interface RequestCheckerOptions {
  /** Every request must use this endpoint; by default the first request's url sets it. */
  endpoint?: BatchEndpoint | undefined;
  /** Allow several endpoints in one run (the sharder gives each its own shards). */
  routeByEndpoint?: boolean | undefined;
  /** Caps of the custom_id index (see UniqueIdSet for the cost per id). */
  maxCustomIds?: number | undefined;
  maxCustomIdBytes?: number | undefined;
}

/** The run-wide rules on top of the per-line ones: one endpoint, unique custom_ids. */
export class RequestChecker {
  endpoint: BatchEndpoint | undefined;
  /** The line whose url set the endpoint; undefined when the options gave it. */
  private endpointLine: number | undefined;
  private readonly routeByEndpoint: boolean;
  private readonly ids: UniqueIdSet;

  constructor(options: RequestCheckerOptions = {}) {
    if (options.endpoint !== undefined && !isSupportedEndpoint(options.endpoint)) {
      throw invalidOption(
        'endpoint',
        `endpoint must be one of ${SUPPORTED_ENDPOINTS.join(', ')}, got ${JSON.stringify(options.endpoint)}`,
      );
    }
    for (const name of ['maxCustomIds', 'maxCustomIdBytes'] as const) wholeNumberOption(options[name], name, 1);
    this.endpoint = options.endpoint;
    this.routeByEndpoint = options.routeByEndpoint ?? false;
    this.ids = new UniqueIdSet({ maxIds: options.maxCustomIds, maxIdBytes: options.maxCustomIdBytes });
  }

  /** Ids recorded so far and the bytes their index holds. */
  get customIds(): { count: number; memoryBytes: number } {
    return { count: this.ids.size, memoryBytes: this.ids.memoryBytes };
  }

  /** Returns the request typed, or throws its coded ValidationError. A rejected line leaves no trace. */
  check(value: unknown, line: number): BatchRequest {
    const request = checkRequest(value, line);
    if (!this.routeByEndpoint) {
      if (this.endpoint === undefined) {
        this.endpoint = request.url;
        this.endpointLine = line;
      } else if (request.url !== this.endpoint) {
        const why =
          this.endpointLine === undefined
            ? `is not the endpoint the run was given, ${this.endpoint} (the endpoint option; --endpoint on the CLI)`
            : `differs from ${this.endpoint} on line ${this.endpointLine}: a batch takes one endpoint; routeByEndpoint ` +
              '(--route-by-endpoint on the CLI) gives each endpoint shards of its own';
        throw new ValidationError('MIXED_ENDPOINTS', `url ${request.url} on line ${line} ${why}`, { line, customId: request.custom_id });
      }
    }
    this.ids.add(request.custom_id, line);
    return request;
  }
}
