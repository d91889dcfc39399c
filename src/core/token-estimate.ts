/**
 * The input tokens a request's model would read, by endpoint: the messages
 * of a chat completion with the per-message framing OpenAI's cookbook
 * counts (3 tokens a message, its role and name, 3 more that prime the
 * reply), the prompt of a completion, the inputs of an embedding, the input
 * items and instructions of a response. Tool definitions and a structured
 * output's schema count as their JSON text (the API renders them otherwise,
 * so those parts are approximate); images, audio and files are not counted.
 * Other endpoints fall back to estimateTokens() (core/tokens.ts).
 *
 * Two ways to count a text: 'fast' (the default) uses per-character rates
 * (core/token-rates.ts), 1.5–2 µs a 1.3 KB request; 'exact' runs
 * gpt-tokenizer, 25 times slower on English and 65 times on mixed languages
 * (benchmarks/RESULTS.md), after loadTokenizers() (core/tokenizers.ts) has
 * loaded the vocabularies it needs.
 */
import { invalidOption } from '../errors.ts';
import type { BatchEndpoint, BatchRequest } from '../types.ts';
import { fastTextTokens, type EncodingName } from './token-rates.ts';
import { estimateTokens } from './tokens.ts';

export type { EncodingName } from './token-rates.ts';

export type TokenEstimateMode = 'fast' | 'exact';

/** Counts the tokens of one text exactly: gpt-tokenizer's `countTokens` for one vocabulary. */
export type TextTokenCounter = (text: string) => number;

/** The exact counters at hand, by vocabulary (what loadTokenizers() resolves to). */
export type Tokenizers = Partial<Record<EncodingName, TextTokenCounter>>;

export interface TokenEstimateOptions {
  /** 'fast' (default): calibrated character rates; 'exact': gpt-tokenizer, with `tokenizers` loaded. */
  estimate?: TokenEstimateMode;
  /** Required for 'exact': a counter for the vocabulary of the request's model. */
  tokenizers?: Tokenizers;
}

/** Framing tokens around each chat message (`<|start|>role<|message|>…<|end|>`, less the role itself). */
const TOKENS_PER_MESSAGE = 3;
/** A message's `name` costs its own tokens and one more. */
const TOKENS_PER_NAME = 1;
/** Every reply is primed with `<|start|>assistant<|message|>`. */
const REPLY_PRIMING_TOKENS = 3;
const MAX_DEPTH = 32;

const FAST_COUNTERS: Readonly<Record<EncodingName, TextTokenCounter>> = {
  o200k_base: (text) => fastTextTokens(text, 'o200k_base'),
  cl100k_base: (text) => fastTextTokens(text, 'cl100k_base'),
};

const CL100K_MODEL = /^(?:gpt-3\.5|gpt-4(?:-|$)|text-embedding-|babbage-002|davinci-002)/;

/**
 * The vocabulary a model reads with: cl100k_base for gpt-3.5, gpt-4 and
 * gpt-4-turbo, the text-embedding-3 and ada-002 models; o200k_base for
 * gpt-4o, gpt-4.1, gpt-5, the o-series, and any model it does not know (new
 * models use it). A fine-tuned model (`ft:gpt-4o-mini-…:org::id`) reads with
 * its base model's.
 */
export function encodingForModel(model: string): EncodingName {
  const base = model.startsWith('ft:') ? model.slice(3) : model;
  return CL100K_MODEL.test(base) ? 'cl100k_base' : 'o200k_base';
}

/** What the model reads of a body, by endpoint; the endpoints not here fall back to estimateTokens(). */
const READERS: Partial<Record<BatchEndpoint, (body: Record<string, unknown>, count: TextTokenCounter) => number>> = {
  '/v1/chat/completions': (body, count) => chatTokens(body, count),
  '/v1/responses': (body, count) => responseTokens(body, count),
  '/v1/completions': (body, count) => promptTokens(body.prompt, count),
  '/v1/embeddings': (body, count) => promptTokens(body.input, count),
};

/** The estimated input tokens of one request; never less than 1. */
export function estimateRequestTokens(request: BatchRequest, options: TokenEstimateOptions = {}): number {
  const mode = options.estimate ?? 'fast';
  if (mode !== 'fast' && mode !== 'exact') throw invalidOption('estimate', `estimate must be 'fast' or 'exact', got ${JSON.stringify(mode)}`);
  const body = request.body as Record<string, unknown>;
  const read = READERS[request.url];
  if (read === undefined) return estimateTokens(body);
  const model = typeof body.model === 'string' ? body.model : '';
  return Math.max(1, Math.ceil(read(body, textCounter(model, mode, options.tokenizers))));
}

function textCounter(model: string, mode: TokenEstimateMode, tokenizers: Tokenizers | undefined): TextTokenCounter {
  const encoding = encodingForModel(model);
  if (mode === 'fast') return FAST_COUNTERS[encoding];
  const counter = tokenizers?.[encoding];
  if (typeof counter !== 'function') {
    throw invalidOption('tokenizers', `estimate 'exact' needs the ${encoding} tokenizer (model ${JSON.stringify(model)}): pass tokenizers from loadTokenizers(['${encoding}'])`);
  }
  return counter;
}

/** Tokens of a value that should be text; anything else reads as nothing. */
function textTokens(value: unknown, count: TextTokenCounter): number {
  return typeof value === 'string' && value.length > 0 ? count(value) : 0;
}

/** Tool definitions or a schema, as the JSON text of them. */
function jsonTokens(value: unknown, count: TextTokenCounter): number {
  if (value === undefined || value === null) return 0;
  try {
    return textTokens(JSON.stringify(value), count);
  } catch {
    return 0; // a BigInt or a cycle: validation refuses such a request before it gets here
  }
}

/** The text a message's content carries: a string, or the text (and refusal) of its parts. */
function contentTokens(content: unknown, count: TextTokenCounter): number {
  if (typeof content === 'string') return textTokens(content, count);
  if (!Array.isArray(content)) return 0;
  let tokens = 0;
  for (const part of content) {
    if (typeof part === 'string') tokens += textTokens(part, count);
    else if (part !== null && typeof part === 'object') {
      const record = part as Record<string, unknown>;
      tokens += textTokens(record.text, count) + textTokens(record.refusal, count);
    }
  }
  return tokens;
}

/** A chat message, or a response's message item: framing, role, name, content, the tool calls it made. */
function messageTokens(message: Record<string, unknown>, count: TextTokenCounter): number {
  let tokens = TOKENS_PER_MESSAGE + textTokens(message.role, count) + contentTokens(message.content, count);
  if (typeof message.name === 'string') tokens += textTokens(message.name, count) + TOKENS_PER_NAME;
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      const fn = (call as { function?: { name?: unknown; arguments?: unknown } } | null)?.function;
      tokens += textTokens(fn?.name, count) + textTokens(fn?.arguments, count);
    }
  }
  return tokens;
}

function chatTokens(body: Record<string, unknown>, count: TextTokenCounter): number {
  let tokens = REPLY_PRIMING_TOKENS;
  if (Array.isArray(body.messages)) {
    for (const message of body.messages) if (message !== null && typeof message === 'object') tokens += messageTokens(message as Record<string, unknown>, count);
  }
  const format = body.response_format as { json_schema?: unknown } | undefined;
  return tokens + jsonTokens(body.tools, count) + jsonTokens(body.functions, count) + jsonTokens(format?.json_schema, count);
}

/** A /v1/responses input item: a message, a function call or its output; other items (reasoning, references) read as nothing. */
function itemTokens(item: unknown, count: TextTokenCounter): number {
  if (item === null || typeof item !== 'object') return 0;
  const record = item as Record<string, unknown>;
  if ('role' in record || record.type === 'message') return messageTokens(record, count);
  if (record.type === 'function_call') return textTokens(record.name, count) + textTokens(record.arguments, count);
  if (record.type === 'function_call_output') return typeof record.output === 'string' ? textTokens(record.output, count) : contentTokens(record.output, count);
  return 0;
}

function responseTokens(body: Record<string, unknown>, count: TextTokenCounter): number {
  let tokens = REPLY_PRIMING_TOKENS;
  // Instructions reach the model as a system message; a string input as one user message.
  if (typeof body.instructions === 'string') tokens += TOKENS_PER_MESSAGE + count('system') + textTokens(body.instructions, count);
  if (typeof body.input === 'string') tokens += TOKENS_PER_MESSAGE + count('user') + textTokens(body.input, count);
  else if (Array.isArray(body.input)) for (const item of body.input) tokens += itemTokens(item, count);
  const format = (body.text as { format?: { schema?: unknown } } | undefined)?.format;
  return tokens + jsonTokens(body.tools, count) + jsonTokens(format?.schema, count);
}

/**
 * A completion's prompt or an embedding's input: a string, a list of
 * strings, a list of token ids (each id one token) or a list of such lists;
 * every item is read, so the tokens add up.
 */
function promptTokens(value: unknown, count: TextTokenCounter, depth = 0): number {
  if (typeof value === 'string') return textTokens(value, count);
  if (typeof value === 'number') return 1;
  if (!Array.isArray(value) || depth >= MAX_DEPTH) return 0;
  let tokens = 0;
  for (const item of value) tokens += promptTokens(item, count, depth + 1);
  return tokens;
}
