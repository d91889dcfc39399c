/** The per-model enqueued-token limit: a batch that would take its model past it fails as it leaves validation. */
import type { BatchErrorItem } from '../../types.ts';
import type { BatchRecord } from '../store/batch-records.ts';

/** The error that fails `record`, or null when its tokens fit beside those of its model's running batches. */
export function tokenLimitError(record: BatchRecord, records: Iterable<BatchRecord>, tokenLimit: number): BatchErrorItem | null {
  if (!Number.isFinite(tokenLimit)) return null;
  const model = record.batch.model;
  let enqueued = 0;
  for (const other of records) {
    const status = other.batch.status;
    if (other !== record && other.batch.model === model && (status === 'in_progress' || status === 'finalizing')) enqueued += other.inputTokens;
  }
  if (enqueued + record.inputTokens <= tokenLimit) return null;
  const message =
    `Enqueued token limit reached for ${model}. Limit: ${tokenLimit} enqueued tokens; ` +
    `this batch needs ${record.inputTokens} and ${enqueued} are already enqueued. Please try again once some in_progress batches have been completed.`;
  return { code: 'token_limit_exceeded', message, param: null, line: null };
}
