/** What runBatch returns: the run's batches, its counts by status, usage and attempts. */
import { join } from 'node:path';
import type { RunState } from '../core/run-state.ts';
import { DEFAULT_PRICE_TABLE, estimateCost, type CostEstimate, type PriceTable } from '../core/prices.ts';
import type { BatchEndpoint, BatchStatus, ResultStatus } from '../types.ts';

export interface RunBatchSummary {
  /** The unit's index: shards from 0, follow-ups from 1,000,000. */
  index: number;
  /** The shard its requests came from, and which try this was (1 = the shard itself). */
  origin: number;
  attempt: number;
  endpoint: BatchEndpoint;
  model: string;
  requests: number;
  batchId: string | null;
  /** Found by its tags after a lost create response, not created by this run's last process. */
  adopted: boolean;
  status: BatchStatus | null;
  inputFileId: string | null;
  outputFileId: string | null;
  errorFileId: string | null;
  /** Local copies of the result files (absolute paths). */
  outputPath: string | null;
  errorPath: string | null;
  requestCounts: { total: number; completed: number; failed: number } | null;
  usage: { input_tokens: number; output_tokens: number; total_tokens: number } | null;
  /** Requests of this batch sent again in a follow-up. */
  retried: number;
}

export interface UsageTotals {
  input_tokens: number;
  cached_tokens: number;
  output_tokens: number;
  total_tokens: number;
}

export interface RunSummary {
  runId: string;
  stateDir: string;
  /** True when this call went on from an earlier process's state. */
  resumed: boolean;
  /** The output file, when `output` was a path. */
  output: string | null;
  requests: number;
  counts: Record<ResultStatus, number>;
  batches: RunBatchSummary[];
  /** Summed over every batch of the run (each try is billed). */
  usage: UsageTotals & { byModel: Record<string, UsageTotals> };
  /** What the usage costs at Batch API prices (models the table does not price are listed, not costed). */
  cost: CostEstimate;
  /** Estimated input tokens of the requests (first tries); null when the run did not count them (see `estimateTokens`). */
  estimatedInputTokens: number | null;
  followUps: number;
  retriedRequests: number;
  /** API calls retried by the client (this process). */
  apiRetries: number;
  /** True when `batchline cancel --state-dir` stopped the run. */
  cancelled: boolean;
  durationMs: number;
}

function emptyUsage(): UsageTotals {
  return { input_tokens: 0, cached_tokens: 0, output_tokens: 0, total_tokens: 0 };
}

export function summarizeBatches(
  state: RunState,
  dir: string,
  prices: PriceTable = DEFAULT_PRICE_TABLE,
  estimated = true,
): Pick<RunSummary, 'batches' | 'usage' | 'cost' | 'estimatedInputTokens' | 'followUps' | 'retriedRequests'> {
  const batches: RunBatchSummary[] = [];
  const usage = { ...emptyUsage(), byModel: {} as Record<string, UsageTotals> };
  let estimatedInputTokens = 0;
  let followUps = 0;
  let retriedRequests = 0;
  const units = [...state.units.values()].sort((a, b) => a.spec.index - b.spec.index);
  for (const unit of units) {
    const { spec, ended, files } = unit;
    if (spec.attempt === 1) estimatedInputTokens += spec.tokens;
    else followUps++;
    retriedRequests += unit.retried;
    const used = ended?.usage;
    if (used) {
      const model = (usage.byModel[spec.model] ??= emptyUsage());
      for (const totals of [usage, model]) {
        totals.input_tokens += used.input_tokens;
        totals.cached_tokens += used.input_tokens_details?.cached_tokens ?? 0;
        totals.output_tokens += used.output_tokens;
        totals.total_tokens += used.total_tokens;
      }
    }
    batches.push({
      index: spec.index,
      origin: spec.origin,
      attempt: spec.attempt,
      endpoint: spec.endpoint,
      model: spec.model,
      requests: spec.requests,
      batchId: unit.batchId,
      adopted: unit.adopted,
      status: ended?.status ?? null,
      inputFileId: unit.fileId,
      outputFileId: ended?.outputFileId ?? null,
      errorFileId: ended?.errorFileId ?? null,
      outputPath: files?.output ? join(dir, files.output) : null,
      errorPath: files?.error ? join(dir, files.error) : null,
      requestCounts: ended?.requestCounts ?? null,
      usage: used ? { input_tokens: used.input_tokens, output_tokens: used.output_tokens, total_tokens: used.total_tokens } : null,
      retried: unit.retried,
    });
  }
  return { batches, usage, cost: estimateCost(usage.byModel, prices), estimatedInputTokens: estimated ? estimatedInputTokens : null, followUps, retriedRequests };
}
