/**
 * A rough token estimate for a request, with no tokenizer and no I/O: about
 * four characters a token for the text a model reads, one token for each
 * number in a token-id array. Good enough to size batches against an
 * enqueued-token limit; not a bill.
 */

/** Keys whose values a tokenizer would see: text and content, not ids, roles or options. */
const READ_KEYS = new Set(['text', 'content', 'input', 'prompt', 'instructions', 'messages']);
const MAX_DEPTH = 32;

/** Estimated tokens of a value (a request body or the part of it the model reads); never less than 1. */
export function estimateTokens(value: unknown): number {
  let chars = 0;
  let tokens = 0;
  const visit = (v: unknown, depth: number): void => {
    if (depth > MAX_DEPTH) return;
    if (typeof v === 'string') chars += v.length;
    else if (typeof v === 'number') tokens += 1;
    else if (Array.isArray(v)) for (const item of v) visit(item, depth + 1);
    else if (v !== null && typeof v === 'object') {
      for (const [key, item] of Object.entries(v)) if (READ_KEYS.has(key)) visit(item, depth + 1);
    }
  };
  visit(value, 0);
  return Math.max(1, tokens + Math.ceil(chars / 4));
}
