/**
 * The token estimate a run uses per request unless it is given one: the
 * endpoint-aware estimate of core/token-estimate.ts in its fast mode
 * (calibrated characters per token; the exact gpt-tokenizer count costs far
 * more than the rest of a run's CPU on a million requests: see
 * benchmarks/RESULTS.md, tokens).
 */
import { estimateRequestTokens } from '../core/token-estimate.ts';
import type { BatchRequest } from '../types.ts';

export function defaultTokenEstimate(request: BatchRequest): number {
  return estimateRequestTokens(request);
}
