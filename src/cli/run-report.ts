/** The closing lines of `batchline run` on stderr: counts by status, batches, tokens, where the results are. */
import type { RunSummary } from '../run/summary.ts';
import type { DryRunSummary } from '../run/dry-run.ts';
import type { ResultStatus } from '../types.ts';
import type { CostEstimate } from '../core/prices.ts';

const STATUSES: ResultStatus[] = ['succeeded', 'rejected', 'failed', 'expired', 'cancelled', 'missing'];

function n(value: number): string {
  return value.toLocaleString('en-US');
}

function usd(value: number): string {
  return value < 0.01 && value > 0 ? `$${value.toPrecision(2)}` : `$${value.toFixed(2)}`;
}

/** `cost ~$1.23 at Batch API prices (checked 2026-11-30)`, naming the models the table does not price. */
export function costLine(cost: CostEstimate): string {
  const unpriced = cost.unpriced.length > 0 ? `; not priced: ${cost.unpriced.join(', ')}` : '';
  return `cost ~${usd(cost.total)} at Batch API prices (as of ${cost.pricesChecked})${unpriced}`;
}

export function runReport(summary: RunSummary): string {
  const counts = STATUSES.filter((status) => status === 'succeeded' || summary.counts[status] > 0)
    .map((status) => `${n(summary.counts[status])} ${status}`)
    .join(', ');
  const lines = [
    `batchline run: ${n(summary.requests)} requests: ${counts}${summary.cancelled ? ' (the run was cancelled)' : ''}`,
    `batchline run: ${summary.batches.length} batches (${summary.followUps} follow-ups retrying ${n(summary.retriedRequests)} requests), ${summary.apiRetries} API calls retried, ${(summary.durationMs / 1000).toFixed(1)} s`,
    `batchline run: tokens: ${n(summary.usage.input_tokens)} input, ${n(summary.usage.output_tokens)} output` +
      (summary.estimatedInputTokens === null ? '' : ` (estimated input ${n(summary.estimatedInputTokens)})`),
  ];
  lines.push(`batchline run: ${costLine(summary.cost)}`);
  if (summary.output) lines.push(`batchline run: results in input order: ${summary.output}`);
  lines.push(`batchline run: state, shards and result files: ${summary.stateDir}`);
  return `${lines.join('\n')}\n`;
}

export function dryRunReport(plan: DryRunSummary): string {
  const lines = [`batchline run --dry-run: ${n(plan.requests)} requests, ${n(plan.inputBytes)} bytes, would make ${plan.shards.length} batches:`];
  for (const [model, m] of Object.entries(plan.byModel)) {
    lines.push(`  ${model}: ${n(m.requests)} requests in ${m.shards} batches, ~${n(m.estimatedInputTokens)} input tokens`);
  }
  lines.push(`  in all: ~${n(plan.estimatedInputTokens)} input tokens; input ${costLine(plan.estimatedInputCost)}; nothing was uploaded`);
  return `${lines.join('\n')}\n`;
}

/** `batchline status --state-dir`: one line on where the run stands. */
export function statusLine(status: import('../run/control.ts').RunStatus): string {
  const { progress } = status;
  const batches = Object.entries(progress.batches)
    .map(([state, count]) => `${count} ${state}`)
    .join(', ');
  const where = status.joined ? 'finished' : status.owner ? `running in process ${status.owner.pid}` : 'stopped (run the same command to resume)';
  const { total, completed, failed } = progress.requestCounts;
  return (
    `batchline status: run ${status.runId} ${where}${status.cancelRequested ? ', cancel requested' : ''}: ` +
    `${n(progress.requests.sharded)}${progress.requests.total === null ? '' : `/${n(progress.requests.total)}`} requests sharded; ` +
    `${status.batches.length} batches (${batches || 'none yet'}); ${n(completed + failed)}/${n(total)} requests done (${n(failed)} failed)\n`
  );
}
