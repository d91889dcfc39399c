/**
 * The Batch API's limit on embedding inputs: a `/v1/embeddings` batch holds
 * at most 50,000 inputs across all its requests (spec v2.3.0), however many
 * requests carry them. Pure counting, no I/O.
 */

export const MAX_BATCH_EMBEDDING_INPUTS = 50_000;

/**
 * How many inputs one request's `input` carries: an array of strings or of
 * token arrays is one input per item; a string, or one flat array of token
 * ids, is a single input.
 */
export function countEmbeddingInputs(input: unknown): number {
  if (!Array.isArray(input)) return 1;
  if (input.length > 0 && input.every((item) => typeof item === 'number')) return 1;
  return Math.max(1, input.length);
}
