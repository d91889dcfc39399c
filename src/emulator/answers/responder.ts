/**
 * The emulator's stand-in for the models: a deterministic fake answer per
 * request, by endpoint, with token usage estimated from the request text.
 * The same request (same seed, custom_id and body) always gets the same
 * answer, so tests can assert on bodies and on which lines fail.
 */
import { hash32, hexOf, keyOf } from '../../core/seeded-random.ts';
import type { BatchEndpoint, BatchResultLine } from '../../types.ts';
import { countEmbeddingInputs } from '../../core/embedding-inputs.ts';
import { estimateTokens } from '../../core/tokens.ts';
import { answerBody } from './answer-bodies.ts';
import { DEFAULT_MEDIA_OPTIONS, imageOutputTokens } from './media-bodies.ts';
import type { MediaOptions, PlanOptions, RenderContext, RequestFailure, RequestPlan } from './request-plan.ts';

const MAX_EMBEDDING_DIMENSIONS = 256;
const DEFAULT_EMBEDDING_DIMENSIONS = 8;
const SNIPPET_CHARS = 40;
const LINE_ID_SALT = 1;
const REQUEST_ID_SALT = 2;
const BODY_ID_SALT = 3;

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
  const h = hash32(customId, options.seed);
  const failure = failureOf(customId, options);
  let reply: string | null = null;
  let outputTokens = 0;
  if (endpoint === '/v1/chat/completions' || endpoint === '/v1/responses' || endpoint === '/v1/completions') {
    // Only the head of the prompt is looked at, and copied out: a slice of a long prompt would keep the whole prompt alive.
    const head = (lastText(prompt) ?? '').slice(0, SNIPPET_CHARS * 4);
    const snippet = Buffer.from(head.replace(/\s+/g, ' ').trim().slice(0, SNIPPET_CHARS), 'utf8').toString('utf8');
    const filler = ' lorem ipsum dolor sit amet'.repeat(1 + (h % 4));
    reply = `Emulated answer to ${customId}${snippet ? ` ("${snippet}")` : ''}:${filler}.`;
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

/** The 500 a transient failure answers with, as the live service words it. */
export const SERVER_ERROR_MESSAGE = 'The server had an error while processing your request. Sorry about that!';

/** One line of the output or error file for a request that was answered. */
export function renderAnswer(plan: RequestPlan, ctx: RenderContext): BatchResultLine {
  const key = keyOf(`${ctx.batchId}:${plan.customId}`);
  const requestId = `req_${hexOf(key, REQUEST_ID_SALT)}`;
  const id = `batch_req_${hexOf(key, LINE_ID_SALT)}`;
  if (plan.failure === 'invalid_request') {
    return {
      id,
      custom_id: plan.customId,
      response: {
        status_code: 400,
        request_id: requestId,
        body: {
          error: {
            message: `The emulator rejected request ${plan.customId} (a configured share of requests fail).`,
            type: 'invalid_request_error',
            param: null,
            code: 'emulated_request_error',
          },
        },
      },
      error: null,
    };
  }
  if (plan.failure === 'server_error') {
    return {
      id,
      custom_id: plan.customId,
      response: { status_code: 500, request_id: requestId, body: { error: { message: SERVER_ERROR_MESSAGE, type: 'server_error', param: null, code: null } } },
      error: null,
    };
  }
  return { id, custom_id: plan.customId, response: { status_code: 200, request_id: requestId, body: answerBody(plan, ctx, hexOf(key, BODY_ID_SALT, 24)) }, error: null };
}

/** One line of the error file for a request the batch never got to (cancelled or expired). */
export function renderUnfinished(plan: RequestPlan, ctx: RenderContext, code: 'batch_cancelled' | 'batch_expired'): BatchResultLine {
  return {
    id: `batch_req_${hexOf(keyOf(`${ctx.batchId}:${plan.customId}`), LINE_ID_SALT)}`,
    custom_id: plan.customId,
    response: null,
    error: {
      code,
      message: code === 'batch_cancelled' ? 'This request was not executed because the batch was cancelled.' : 'This request could not be executed before the completion window expired.',
    },
  };
}

