/** What the responder decides per request at validation time, and what rendering an answer needs. */
import type { BatchEndpoint } from '../../types.ts';

/** What the engine keeps per request between validation and writing results: small, no request body. */
export interface RequestPlan {
  customId: string;
  line: number;
  inputTokens: number;
  outputTokens: number;
  /** How this line fails, if it does: a 400 every time (`errorRate`), or a 500 in this batch only (`transientErrorRate`). */
  failure: RequestFailure | null;
  /** The reply text for text endpoints; null for the others. */
  reply: string | null;
  /** How many inputs an embeddings or moderations request carries; how many images an images request asks for. */
  inputCount: number;
  dimensions: number;
  base64: boolean;
  /** What an images or videos answer echoes; null for the other endpoints. */
  media: MediaOptions | null;
}

/** The few request options a media answer shows, kept as short strings. */
export interface MediaOptions {
  size: string;
  quality: string;
  seconds: string;
  outputFormat: string;
}

/**
 * `invalid_request`: the request itself is refused (a 400), in every batch
 * it is sent in. `server_error`: a 500 that clears — the same request in
 * another batch rolls again.
 */
export type RequestFailure = 'invalid_request' | 'server_error';

export interface PlanOptions {
  seed: number;
  /** Share of custom_ids answered with a 400 in every batch. */
  errorRate: number;
  /** Share of requests answered with a 500 in this batch (default 0). */
  transientErrorRate?: number;
  /** The batch the plan is for: a transient failure is drawn per batch. */
  batchId?: string;
}

export interface RenderContext {
  batchId: string;
  endpoint: BatchEndpoint;
  model: string;
  /** Seconds; the `created` stamp of the fake answer. */
  created: number;
  seed: number;
}
