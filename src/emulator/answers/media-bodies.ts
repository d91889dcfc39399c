/**
 * Answer bodies of the media batch endpoints (spec v2.3.0): images
 * (generations and edits) and videos. What the live Batch API writes for a
 * video request is not documented; the emulator writes the Video object that
 * POST /v1/videos returns, as it would look once the video is done.
 */
import type { MediaOptions, RenderContext, RequestPlan } from './request-plan.ts';

/** A valid 1×1 PNG: real answers carry a full image, but no client should need its pixels to be right. */
const TINY_PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

/** Output tokens of one 1024×1024 image by quality, as gpt-image-1 bills them. */
const IMAGE_TOKENS: Record<string, number> = { low: 272, medium: 1056, high: 4160 };
const DEFAULT_IMAGE_TOKENS = IMAGE_TOKENS.high;

export const DEFAULT_MEDIA_OPTIONS: MediaOptions = { size: '1024x1024', quality: 'high', seconds: '4', outputFormat: 'png' };

/** Output tokens billed for a request's images: per image, by quality. */
export function imageOutputTokens(count: number, quality: string): number {
  return count * (IMAGE_TOKENS[quality] ?? DEFAULT_IMAGE_TOKENS);
}

/** The answer of /v1/images/generations and /v1/images/edits: `n` images as base64, with usage. */
export function imageBody(plan: RequestPlan, ctx: RenderContext): Record<string, unknown> {
  const media = plan.media ?? DEFAULT_MEDIA_OPTIONS;
  return {
    created: ctx.created,
    background: 'opaque',
    data: Array.from({ length: plan.inputCount }, () => ({ b64_json: TINY_PNG_BASE64 })),
    output_format: media.outputFormat,
    quality: media.quality,
    size: media.size,
    usage: {
      input_tokens: plan.inputTokens,
      input_tokens_details: { text_tokens: plan.inputTokens, image_tokens: 0 },
      output_tokens: plan.outputTokens,
      total_tokens: plan.inputTokens + plan.outputTokens,
    },
  };
}

/** The answer of /v1/videos: the Video object, completed. */
export function videoBody(plan: RequestPlan, ctx: RenderContext, hex: string): Record<string, unknown> {
  const media = plan.media ?? DEFAULT_MEDIA_OPTIONS;
  return {
    id: `video_${hex}`,
    object: 'video',
    model: ctx.model,
    status: 'completed',
    progress: 100,
    created_at: ctx.created,
    completed_at: ctx.created,
    expires_at: ctx.created + 24 * 3600,
    prompt: null,
    seconds: media.seconds,
    size: media.size,
    remixed_from_video_id: null,
    error: null,
  };
}
