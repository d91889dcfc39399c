/**
 * Batch-level faults on demand: the Nth batch created (1-based) expires half
 * way through its run, is refused by the enqueued-token limit, or fails with
 * a server error — deterministic, for demos and tests of a client's handling
 * of each ending.
 */
import { invalidOption } from '../../errors.ts';
import type { BatchErrorItem } from '../../types.ts';
import { SERVER_ERROR_MESSAGE } from '../answers/answer-lines.ts';

export const BATCH_FAULT_KINDS = ['expire', 'token_limit_exceeded', 'fail'] as const;

/**
 * - `expire`: the batch expires half way through its run: the requests
 *   answered by then are in the output file, the rest `batch_expired` lines.
 * - `token_limit_exceeded`: it ends `failed` as it leaves validation, with
 *   the enqueued-token limit's `errors.data` item.
 * - `fail`: it ends `failed` as it leaves validation, with a `server_error` item.
 */
export type BatchFaultKind = (typeof BATCH_FAULT_KINDS)[number];

export interface BatchFault {
  /** Which batch, by creation order: the third batch created is 3. */
  batch: number;
  kind: BatchFaultKind;
}

/** The faults by batch number, each checked: a whole number ≥ 1, a known kind, one fault per batch. */
export function normalizeBatchFaults(faults: readonly BatchFault[] | undefined): Map<number, BatchFaultKind> {
  const byBatch = new Map<number, BatchFaultKind>();
  if (faults === undefined) return byBatch;
  if (!Array.isArray(faults)) throw invalidOption('batchFaults', 'batchFaults must be an array of {batch, kind}');
  for (const fault of faults) {
    const { batch, kind } = (fault ?? {}) as Partial<BatchFault>;
    if (!Number.isSafeInteger(batch) || (batch as number) < 1) {
      throw invalidOption('batchFaults', `a batch fault's batch must be a whole number ≥ 1 (the batch's creation order), got ${JSON.stringify(batch)}`);
    }
    if (!(BATCH_FAULT_KINDS as readonly unknown[]).includes(kind)) {
      throw invalidOption('batchFaults', `a batch fault's kind must be one of ${BATCH_FAULT_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
    }
    if (byBatch.has(batch as number)) throw invalidOption('batchFaults', `batch ${batch} has two faults; give each batch one`);
    byBatch.set(batch as number, kind as BatchFaultKind);
  }
  return byBatch;
}

/** The `errors.data` item of a batch failed by the `fail` fault. */
export function serverErrorItem(): BatchErrorItem {
  return { code: 'server_error', message: SERVER_ERROR_MESSAGE, param: null, line: null };
}
