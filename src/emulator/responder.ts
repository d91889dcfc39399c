/**
 * The emulator's stand-in for the models: a deterministic fake answer per
 * request, by endpoint, with token usage estimated from the request text.
 * The same request (same seed, custom_id and body) always gets the same
 * answer, so tests can assert on bodies and on which lines fail.
 */
import { createHash } from 'node:crypto';
import type { BatchEndpoint, BatchResultLine } from '../types.ts';

/** What the engine keeps per request between validation and writing results: small, no request body. */
export interface RequestPlan {
  customId: string;
  line: number;
  inputTokens: number;
  outputTokens: number;
  /** True when this line is answered with a 4xx (the `errorRate` share). */
  fails: boolean;
  /** The reply text for text endpoints; null for embeddings and moderations. */
  reply: string | null;
  /** How many inputs an embeddings or moderations request carries. */
  inputCount: number;
  dimensions: number;
  base64: boolean;
}

export interface PlanOptions {
  seed: number;
  errorRate: number;
}

const MAX_EMBEDDING_DIMENSIONS = 256;
const DEFAULT_EMBEDDING_DIMENSIONS = 8;
const SNIPPET_CHARS = 40;

/** 32-bit FNV-1a over a string, mixed with a seed; the root of every deterministic choice here. */
export function hash32(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // A final avalanche so that nearby custom_ids ("r1", "r2") do not give nearby values.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** A seeded pseudo-random generator (mulberry32) returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates in place with a seeded generator. */
export function shuffleInPlace<T>(items: T[], seed: number): T[] {
  const random = seededRandom(seed);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = items[i];
    items[i] = items[j];
    items[j] = swap;
  }
  return items;
}

/** A stable hex id derived from its parts, so the same batch and line always get the same ids. */
export function stableHex(parts: string, length = 32): string {
  return createHash('sha256').update(parts).digest('hex').slice(0, length);
}

/** A rough token count: about four characters per token, numbers in token arrays count one each. */
export function estimateTokens(value: unknown): number {
  let chars = 0;
  let tokens = 0;
  const visit = (v: unknown, depth: number): void => {
    if (depth > 32) return;
    if (typeof v === 'string') chars += v.length;
    else if (typeof v === 'number') tokens += 1;
    else if (Array.isArray(v)) for (const item of v) visit(item, depth + 1);
    else if (v !== null && typeof v === 'object') {
      for (const [key, item] of Object.entries(v)) {
        // Only what a tokenizer would see: text and content, not ids, roles or options.
        if (key === 'text' || key === 'content' || key === 'input' || key === 'prompt' || key === 'instructions' || key === 'messages') {
          visit(item, depth + 1);
        }
      }
    }
  };
  visit(value, 0);
  return Math.max(1, tokens + Math.ceil(chars / 4));
}

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

function countInputs(input: unknown): number {
  if (Array.isArray(input)) {
    // A flat array of token ids is one input; an array of strings or of token arrays is many.
    if (input.length > 0 && input.every((item) => typeof item === 'number')) return 1;
    return Math.max(1, input.length);
  }
  return 1;
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
  const fails = options.errorRate > 0 && hash32(`fail:${customId}`, options.seed) / 4294967296 < options.errorRate;
  let reply: string | null = null;
  let outputTokens = 0;
  if (endpoint === '/v1/chat/completions' || endpoint === '/v1/responses' || endpoint === '/v1/completions') {
    const snippet = (lastText(prompt) ?? '').replace(/\s+/g, ' ').trim().slice(0, SNIPPET_CHARS);
    const filler = ' lorem ipsum dolor sit amet'.repeat(1 + (h % 4));
    reply = `Emulated answer to ${customId}${snippet ? ` ("${snippet}")` : ''}:${filler}.`;
    outputTokens = Math.ceil(reply.length / 4);
    const cap = maxOutputTokens(body);
    if (cap !== null && outputTokens > cap) {
      reply = reply.slice(0, cap * 4);
      outputTokens = cap;
    }
  }
  const requested = typeof body.dimensions === 'number' && Number.isInteger(body.dimensions) && body.dimensions > 0 ? body.dimensions : null;
  return {
    customId,
    line,
    inputTokens,
    outputTokens,
    fails,
    reply,
    inputCount: endpoint === '/v1/embeddings' || endpoint === '/v1/moderations' ? countInputs((body as { input?: unknown }).input) : 1,
    dimensions: Math.min(requested ?? DEFAULT_EMBEDDING_DIMENSIONS, MAX_EMBEDDING_DIMENSIONS),
    base64: body.encoding_format === 'base64',
  };
}

export interface RenderContext {
  batchId: string;
  endpoint: BatchEndpoint;
  model: string;
  /** Seconds; the `created` stamp of the fake answer. */
  created: number;
  seed: number;
}

/** One line of the output or error file for a request that was answered. */
export function renderAnswer(plan: RequestPlan, ctx: RenderContext): BatchResultLine {
  const key = `${ctx.batchId}:${plan.customId}`;
  const requestId = `req_${stableHex(`request:${key}`)}`;
  const id = `batch_req_${stableHex(`line:${key}`)}`;
  if (plan.fails) {
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
  return { id, custom_id: plan.customId, response: { status_code: 200, request_id: requestId, body: answerBody(plan, ctx) }, error: null };
}

/** One line of the error file for a request the batch never got to (cancelled or expired). */
export function renderUnfinished(plan: RequestPlan, ctx: RenderContext, code: 'batch_cancelled' | 'batch_expired'): BatchResultLine {
  return {
    id: `batch_req_${stableHex(`line:${ctx.batchId}:${plan.customId}`)}`,
    custom_id: plan.customId,
    response: null,
    error: {
      code,
      message: code === 'batch_cancelled' ? 'This request was not executed because the batch was cancelled.' : 'This request could not be executed before the completion window expired.',
    },
  };
}

function answerBody(plan: RequestPlan, ctx: RenderContext): Record<string, unknown> {
  const hex = stableHex(`body:${ctx.batchId}:${plan.customId}`, 24);
  const { inputTokens, outputTokens } = plan;
  const text = plan.reply ?? '';
  switch (ctx.endpoint) {
    case '/v1/chat/completions':
      return {
        id: `chatcmpl-${hex}`,
        object: 'chat.completion',
        created: ctx.created,
        model: ctx.model,
        choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
        usage: {
          prompt_tokens: inputTokens,
          completion_tokens: outputTokens,
          total_tokens: inputTokens + outputTokens,
          prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
        },
        service_tier: 'default',
        system_fingerprint: `fp_${hex.slice(0, 10)}`,
      };
    case '/v1/responses':
      return {
        id: `resp_${hex}`,
        object: 'response',
        created_at: ctx.created,
        status: 'completed',
        error: null,
        incomplete_details: null,
        model: ctx.model,
        output: [
          {
            type: 'message',
            id: `msg_${hex}`,
            status: 'completed',
            role: 'assistant',
            content: [{ type: 'output_text', text, annotations: [] }],
          },
        ],
        usage: {
          input_tokens: inputTokens,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: outputTokens,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: inputTokens + outputTokens,
        },
      };
    case '/v1/completions':
      return {
        id: `cmpl-${hex}`,
        object: 'text_completion',
        created: ctx.created,
        model: ctx.model,
        choices: [{ text, index: 0, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: inputTokens, completion_tokens: outputTokens, total_tokens: inputTokens + outputTokens },
      };
    case '/v1/embeddings':
      return {
        object: 'list',
        data: Array.from({ length: plan.inputCount }, (_, index) => ({
          object: 'embedding',
          index,
          embedding: embeddingVector(`${plan.customId}:${index}`, plan.dimensions, ctx.seed, plan.base64),
        })),
        model: ctx.model,
        usage: { prompt_tokens: inputTokens, total_tokens: inputTokens },
      };
    case '/v1/moderations':
      return {
        id: `modr-${hex}`,
        model: ctx.model,
        results: Array.from({ length: plan.inputCount }, (_, index) => moderationResult(`${plan.customId}:${index}`, ctx.seed)),
        usage: { prompt_tokens: inputTokens, total_tokens: inputTokens },
      };
  }
}

/** A unit-length vector, the shape real embeddings have, as floats or as base64 float32 bytes. */
function embeddingVector(key: string, dimensions: number, seed: number, base64: boolean): number[] | string {
  const random = seededRandom(hash32(key, seed));
  const values = Array.from({ length: dimensions }, () => random() * 2 - 1);
  const norm = Math.sqrt(values.reduce((sum, v) => sum + v * v, 0)) || 1;
  const unit = values.map((v) => Math.round((v / norm) * 1e6) / 1e6);
  if (!base64) return unit;
  return Buffer.from(new Float32Array(unit).buffer).toString('base64');
}

const MODERATION_CATEGORIES = [
  'harassment',
  'harassment/threatening',
  'hate',
  'hate/threatening',
  'illicit',
  'illicit/violent',
  'self-harm',
  'self-harm/instructions',
  'self-harm/intent',
  'sexual',
  'sexual/minors',
  'violence',
  'violence/graphic',
] as const;

function moderationResult(key: string, seed: number): Record<string, unknown> {
  const random = seededRandom(hash32(key, seed));
  const categories: Record<string, boolean> = {};
  const scores: Record<string, number> = {};
  const appliedInputTypes: Record<string, string[]> = {};
  for (const name of MODERATION_CATEGORIES) {
    categories[name] = false;
    scores[name] = Math.round(random() * 1e-3 * 1e8) / 1e8;
    appliedInputTypes[name] = ['text'];
  }
  return { flagged: false, categories, category_scores: scores, category_applied_input_types: appliedInputTypes };
}
