/** The per-model enqueued-token limit: a batch that would take its model past it fails as it leaves validation. */
import type { BatchErrorItem } from '../../types.ts';
import type { BatchRecord } from '../store/batch-records.ts';

/** The organization the emulator's messages name, where the live service names the caller's. */
export const EMULATOR_ORGANIZATION = 'org-emulator';

/** The limit a forced `token_limit_exceeded` fault reports when no `tokenLimit` is set: gpt-4o-mini's tier-1 batch queue limit. */
export const FORCED_TOKEN_LIMIT = 2_000_000;

/**
 * The `errors.data` item of a batch refused by the limit, worded as the live
 * service words it (its enqueued-request twin reads "Limit: 1,000,000 enqueued
 * requests", digits grouped).
 */
export function tokenLimitItem(model: string, tokenLimit: number): BatchErrorItem {
  const limit = String(tokenLimit).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const message =
    `Enqueued token limit reached for ${model} in organization ${EMULATOR_ORGANIZATION}. Limit: ${limit} enqueued tokens. ` +
    'Please try again once some in_progress batches have been completed.';
  return { code: 'token_limit_exceeded', message, param: null, line: null };
}

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
  return tokenLimitItem(model ?? '', tokenLimit);
}
