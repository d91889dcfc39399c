/**
 * The lines of a batch's output and error files, as values: an answered
 * request (200 with its body, 400 or 500), and a request the batch never got
 * to (`batch_cancelled`, `batch_expired`). Their ids follow from the batch
 * id and the custom_id, so a line reads the same every time it is rendered.
 */
import { hexOf, keyOf, type StableKey } from '../../core/seeded-random.ts';
import type { BatchResultLine } from '../../types.ts';
import { answerBody } from './answer-bodies.ts';
import type { RenderContext, RequestPlan } from './request-plan.ts';

/** Each id of a line is the hex of the line's key with a salt of its own; the answer body's is shorter. */
export const LINE_ID_SALT = 1;
export const REQUEST_ID_SALT = 2;
export const BODY_ID_SALT = 3;
export const ID_HEX_LENGTH = 32;
export const BODY_ID_HEX_LENGTH = 24;

/** The 500 a transient failure answers with, as the live service words it. */
export const SERVER_ERROR_MESSAGE = 'The server had an error while processing your request. Sorry about that!';

/** The hex parts of one line's ids: the line's own (32), its request's (32) and its answer body's (24). */
export interface LineIds {
  line: string;
  request: string;
  body: string;
}

/** The key a line's ids come from: the batch id and the custom_id, so a resubmitted request gets new ids. */
export function lineKeyPrefix(batchId: string): string {
  return `${batchId}:`;
}

export function lineIdsOf(batchId: string, customId: string): LineIds {
  return lineIdsFromKey(keyOf(`${lineKeyPrefix(batchId)}${customId}`));
}

export function lineIdsFromKey(key: StableKey): LineIds {
  return { line: hexOf(key, LINE_ID_SALT, ID_HEX_LENGTH), request: hexOf(key, REQUEST_ID_SALT, ID_HEX_LENGTH), body: hexOf(key, BODY_ID_SALT, BODY_ID_HEX_LENGTH) };
}

/** One line of the output or error file for a request that was answered. */
export function renderAnswer(plan: RequestPlan, ctx: RenderContext, ids: LineIds = lineIdsOf(ctx.batchId, plan.customId)): BatchResultLine {
  const id = `batch_req_${ids.line}`;
  const requestId = `req_${ids.request}`;
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
  return { id, custom_id: plan.customId, response: { status_code: 200, request_id: requestId, body: answerBody(plan, ctx, ids.body) }, error: null };
}

/** One line of the error file for a request the batch never got to (cancelled or expired). */
export function renderUnfinished(plan: RequestPlan, ctx: RenderContext, code: 'batch_cancelled' | 'batch_expired'): BatchResultLine {
  return {
    id: `batch_req_${lineIdsOf(ctx.batchId, plan.customId).line}`,
    custom_id: plan.customId,
    response: null,
    error: {
      code,
      message: code === 'batch_cancelled' ? 'This request was not executed because the batch was cancelled.' : 'This request could not be executed before the completion window expired.',
    },
  };
}
