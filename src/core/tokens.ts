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
  const count = { chars: 0, tokens: 0 };
  visit(value, 0, count);
  return Math.max(1, count.tokens + Math.ceil(count.chars / 4));
}

// A plain recursive function and for…in: this runs once per request of a whole run, so no closure or entry arrays a call.
function visit(value: unknown, depth: number, count: { chars: number; tokens: number }): void {
  if (depth > MAX_DEPTH) return;
  if (typeof value === 'string') count.chars += value.length;
  else if (typeof value === 'number') count.tokens += 1;
  else if (Array.isArray(value)) for (let i = 0; i < value.length; i++) visit(value[i], depth + 1, count);
  else if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const key in record) if (READ_KEYS.has(key) && Object.hasOwn(record, key)) visit(record[key], depth + 1, count);
  }
}
