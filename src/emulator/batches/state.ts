/** The Batch object as the API shows it: a new one, its empty usage, its id, and the statuses it never leaves. */
import { randomBytes } from 'node:crypto';
import { hash32 } from '../../core/seeded-random.ts';
import { TERMINAL_BATCH_STATUSES, type BatchObject, type BatchStatus, type BatchUsage } from '../../types.ts';
import type { BatchParams } from './params.ts';

export const TERMINAL_STATUSES = TERMINAL_BATCH_STATUSES as ReadonlySet<BatchStatus>;
export const COMPLETION_WINDOW_SECONDS = 86_400;

export function newBatchId(): string {
  return `batch_${randomBytes(16).toString('hex')}`;
}

export function emptyUsage(): BatchUsage {
  return { input_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 };
}

export function newBatchObject(id: string, params: BatchParams, createdAt: number): BatchObject {
  return {
    id,
    object: 'batch',
    endpoint: params.endpoint,
    model: null,
    errors: null,
    input_file_id: params.inputFileId,
    completion_window: '24h',
    status: 'validating',
    output_file_id: null,
    error_file_id: null,
    created_at: createdAt,
    in_progress_at: null,
    expires_at: createdAt + COMPLETION_WINDOW_SECONDS,
    finalizing_at: null,
    completed_at: null,
    failed_at: null,
    expired_at: null,
    cancelling_at: null,
    cancelled_at: null,
    request_counts: { total: 0, completed: 0, failed: 0 },
    usage: emptyUsage(),
    metadata: params.metadata,
  };
}

/**
 * How an ended batch shows a result file it does not have. The spec gives
 * null; the live API has also sent "" (an `error_file_id` on a clean batch),
 * and when it does so is unknown. So the emulator sends "" for some batches,
 * chosen by the seed and the batch's creation order, and clients learn to
 * treat both as absent.
 */
export function absentFileId(seq: number, seed: number): null | '' {
  return hash32(`absent-file-id:${seq}`, seed) % 2 === 0 ? null : '';
}

/**
 * Marks a batch ended: its status, the timestamp that goes with it, and its
 * result file ids, which the Batch object shows only now (not while it
 * finalizes or cancels); a file it does not have shows as `absent`.
 */
export function markEnded(
  batch: BatchObject,
  status: 'completed' | 'failed' | 'cancelled' | 'expired',
  atSeconds: number,
  files: { output: string | null; error: string | null } | null,
  absent: null | '',
): void {
  batch.status = status;
  if (status === 'completed') batch.completed_at = atSeconds;
  else if (status === 'failed') batch.failed_at = atSeconds;
  else if (status === 'cancelled') batch.cancelled_at = atSeconds;
  else batch.expired_at = atSeconds;
  batch.output_file_id = files?.output ?? absent;
  batch.error_file_id = files?.error ?? absent;
}
