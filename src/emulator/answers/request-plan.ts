/** What the responder decides per request at validation time, and what rendering an answer needs. */
import type { BatchEndpoint } from '../../types.ts';

/** What the engine keeps per request between validation and writing results: small, no request body. */
export interface RequestPlan {
  customId: string;
  line: number;
  inputTokens: number;
  outputTokens: number;
  /** True when this line is answered with a 4xx (the `errorRate` share). */
  fails: boolean;
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

export interface PlanOptions {
  seed: number;
  errorRate: number;
}

export interface RenderContext {
  batchId: string;
  endpoint: BatchEndpoint;
  model: string;
  /** Seconds; the `created` stamp of the fake answer. */
  created: number;
  seed: number;
}
