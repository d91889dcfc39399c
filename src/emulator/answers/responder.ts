/**
 * The emulator's stand-in for the models: a deterministic fake answer per
 * request, by endpoint, with token usage estimated from the request text.
 * The same request (same seed, custom_id and body) always gets the same
 * answer, so tests can assert on bodies and on which lines fail.
 */
import { hash32 } from '../../core/seeded-random.ts';
import type { BatchEndpoint } from '../../types.ts';
import { countEmbeddingInputs } from '../../core/embedding-inputs.ts';
import { estimateTokens } from '../../core/tokens.ts';
import { DEFAULT_MEDIA_OPTIONS, imageOutputTokens } from './media-bodies.ts';
import type { MediaOptions, PlanOptions, RequestFailure, RequestPlan } from './request-plan.ts';

const MAX_EMBEDDING_DIMENSIONS = 256;
const DEFAULT_EMBEDDING_DIMENSIONS = 8;
const SNIPPET_CHARS = 40;

/** The part of a request body that the model reads, by endpoint. */
function promptOf(endpoint: BatchEndpoint, body: Record<string, unknown>): unknown {
  switch (endpoint) {
    case '/v1/chat/completions':
      return { messages: body.messages };
    case '/v1/responses':
      return { instructions: body.instructions, input: body.input };
    case '/v1/completions':
      return { prompt: body.prompt };
    case '/v1/embeddings':
    case '/v1/moderations':
      return { input: body.input };
    case '/v1/images/generations':
    case '/v1/images/edits':
    case '/v1/videos':
      return { prompt: body.prompt };
  }
}

/** The last piece of plain text in a prompt: what the fake reply echoes back. */
function lastText(value: unknown, depth = 0): string | null {
  if (depth > 32) return null;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    for (let i = value.length - 1; i >= 0; i--) {
      const found = lastText(value[i], depth + 1);
      if (found) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const key of ['input', 'messages', 'prompt', 'content', 'text']) {
      const found = lastText(record[key], depth + 1);
      if (found) return found;
    }
  }
  return null;
}

/** The padding of a text answer, one to four times, chosen by the custom_id. */
const FILLERS = [1, 2, 3, 4].map((times) => ' lorem ipsum dolor sit amet'.repeat(times));

const MAX_IMAGES_PER_REQUEST = 10;
const MAX_OPTION_CHARS = 32;

/** How many inputs (embeddings, moderations) or images (images endpoints) a request carries. */
function countOf(endpoint: BatchEndpoint, body: Record<string, unknown>): number {
  if (endpoint === '/v1/embeddings' || endpoint === '/v1/moderations') return countEmbeddingInputs(body.input);
  if (endpoint === '/v1/images/generations' || endpoint === '/v1/images/edits') {
    const n = body.n;
    return typeof n === 'number' && Number.isInteger(n) && n > 0 ? Math.min(n, MAX_IMAGES_PER_REQUEST) : 1;
  }
  return 1;
}

/** A short string option of a media request, or its default; copied so the body can be dropped. */
function shortOption(value: unknown, fallback: string): string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_OPTION_CHARS ? `${value}` : fallback;
}

function mediaOptions(endpoint: BatchEndpoint, body: Record<string, unknown>): MediaOptions | null {
  if (endpoint !== '/v1/images/generations' && endpoint !== '/v1/images/edits' && endpoint !== '/v1/videos') return null;
  const defaults = DEFAULT_MEDIA_OPTIONS;
  return {
    size: shortOption(body.size, endpoint === '/v1/videos' ? '720x1280' : defaults.size),
    quality: shortOption(body.quality, defaults.quality),
    seconds: shortOption(typeof body.seconds === 'number' ? String(body.seconds) : body.seconds, defaults.seconds),
    outputFormat: shortOption(body.output_format, defaults.outputFormat),
  };
}

function maxOutputTokens(body: Record<string, unknown>): number | null {
  for (const key of ['max_completion_tokens', 'max_output_tokens', 'max_tokens']) {
    const value = body[key];
    if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  }
  return null;
}

/** What JavaScript's `\s` and `trim()` treat as white space. */
function isSpace(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d);
  if (code < 0xa0) return false;
  return (
    code === 0xa0 || code === 0x1680 || (code >= 0x2000 && code <= 0x200a) || code === 0x2028 || code === 0x2029 ||
    code === 0x202f || code === 0x205f || code === 0x3000 || code === 0xfeff
  );
}

/**
 * The head of a prompt as the answer quotes it: its first 160 characters with
 * every run of white space made one space, trimmed, cut to 40 characters —
 * `text.slice(0, 160).replace(/\s+/g, ' ').trim().slice(0, 40)`, in one pass
 * that stops at 40 (the regular expression cost a third of planning a request).
 */
export function snippetOf(text: string): string {
  const end = Math.min(text.length, SNIPPET_CHARS * 4);
  let snippet = '';
  let at = 0;
  while (at < end && isSpace(text.charCodeAt(at))) at++;
  while (at < end && snippet.length < SNIPPET_CHARS) {
    const word = at;
    while (at < end && !isSpace(text.charCodeAt(at))) at++;
    snippet += snippet === '' ? text.slice(word, at) : ` ${text.slice(word, at)}`;
    while (at < end && isSpace(text.charCodeAt(at))) at++;
  }
  return snippet.length > SNIPPET_CHARS ? snippet.slice(0, SNIPPET_CHARS) : snippet;
}

/** Decides everything about one request's answer at validation time, so the body can be dropped. */
export function planRequest(
  endpoint: BatchEndpoint,
  customId: string,
  line: number,
  body: Record<string, unknown>,
  options: PlanOptions,
): RequestPlan {
  const prompt = promptOf(endpoint, body);
  const inputTokens = estimateTokens(prompt);
  const failure = failureOf(customId, options);
  let reply: string | null = null;
  let outputTokens = 0;
  if (endpoint === '/v1/chat/completions' || endpoint === '/v1/responses' || endpoint === '/v1/completions') {
    const snippet = snippetOf(lastText(prompt) ?? '');
    const filler = FILLERS[hash32(customId, options.seed) % FILLERS.length];
    // Joined into one new string: a slice or a concatenation would keep the prompt it was cut from alive.
    reply = (snippet ? ['Emulated answer to ', customId, ' ("', snippet, '"):', filler, '.'] : ['Emulated answer to ', customId, ':', filler, '.']).join('');
    outputTokens = Math.ceil(reply.length / 4);
    const cap = maxOutputTokens(body);
    if (cap !== null && outputTokens > cap) {
      reply = reply.slice(0, cap * 4);
      outputTokens = cap;
    }
  }
  const inputCount = countOf(endpoint, body);
  const media = mediaOptions(endpoint, body);
  if (media && endpoint !== '/v1/videos') outputTokens = imageOutputTokens(inputCount, media.quality);
  const requested = typeof body.dimensions === 'number' && Number.isInteger(body.dimensions) && body.dimensions > 0 ? body.dimensions : null;
  return {
    customId,
    line,
    inputTokens,
    outputTokens,
    failure,
    reply,
    inputCount,
    dimensions: Math.min(requested ?? DEFAULT_EMBEDDING_DIMENSIONS, MAX_EMBEDDING_DIMENSIONS),
    base64: body.encoding_format === 'base64',
    media,
  };
}

/**
 * Whether a request fails, and how: drawn from the custom_id alone for the
 * permanent kind (a resubmission fails again), from the custom_id and the
 * batch id for the transient kind (a resubmission in a new batch rolls again).
 */
function failureOf(customId: string, options: PlanOptions): RequestFailure | null {
  if (options.errorRate > 0 && hash32(`fail:${customId}`, options.seed) / 4294967296 < options.errorRate) return 'invalid_request';
  const transient = options.transientErrorRate ?? 0;
  if (transient > 0 && hash32(`transient:${options.batchId ?? ''}:${customId}`, options.seed) / 4294967296 < transient) return 'server_error';
  return null;
}
