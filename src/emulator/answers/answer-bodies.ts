/**
 * The fake answer bodies, one shape per endpoint, as the real endpoints
 * return them (with `usage`), so code that reads real batch results reads
 * these unchanged. The media endpoints' bodies are in media-bodies.ts.
 */
import { hash32, seededRandom, stableHex } from '../../core/seeded-random.ts';
import { imageBody, videoBody } from './media-bodies.ts';
import type { RenderContext, RequestPlan } from './request-plan.ts';

/** `hex` is the answer's own stable id part (chatcmpl-…, resp_…, modr-…). */
export function answerBody(plan: RequestPlan, ctx: RenderContext, hex: string): Record<string, unknown> {
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
        // The backend's configuration, as the live field is: the same for every answer of a batch.
        system_fingerprint: `fp_${stableHex(`${ctx.model}:${ctx.seed}`, 10)}`,
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
    case '/v1/images/generations':
    case '/v1/images/edits':
      return imageBody(plan, ctx);
    case '/v1/videos':
      return videoBody(plan, ctx, hex);
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
