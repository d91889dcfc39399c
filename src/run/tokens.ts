/** The token estimate a run uses per request unless it is given one. */
import { estimateTokens } from '../core/tokens.ts';
import type { BatchRequest } from '../types.ts';

export function defaultTokenEstimate(request: BatchRequest): number {
  return estimateTokens(request.body);
}
