/**
 * `dryRun: true`: what a run would send, without sending anything. The input
 * is validated and sharded into a temp dir (removed after) exactly as a run
 * would, and the shards' requests and estimated tokens are reported per
 * model. No state dir, no API call.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BatchEndpoint } from '../types.ts';
import { estimateCost, type CostEstimate } from '../core/prices.ts';
import { ingestFile } from './ingest.ts';
import type { NormalizedRunOptions } from './options.ts';
import { SPOOL_FILE } from './source.ts';
import { defaultTokenEstimate } from './tokens.ts';

export interface DryRunShard {
  index: number;
  endpoint: BatchEndpoint;
  model: string;
  requests: number;
  bytes: number;
  estimatedInputTokens: number;
}

export interface DryRunSummary {
  dryRun: true;
  requests: number;
  inputBytes: number;
  inputSha256: string;
  shards: DryRunShard[];
  /** Estimated input tokens and requests per model. */
  byModel: Record<string, { requests: number; estimatedInputTokens: number; shards: number }>;
  estimatedInputTokens: number;
  /** What the input tokens would cost at Batch API prices; the output is not known before the run. */
  estimatedInputCost: CostEstimate;
}

export async function dryRun(o: NormalizedRunOptions): Promise<DryRunSummary> {
  const dir = await mkdtemp(join(tmpdir(), 'batchline-dry-run-'));
  const signal = o.options.signal ?? new AbortController().signal;
  try {
    const inputPath = o.input.kind === 'file' ? o.input.path : join(dir, SPOOL_FILE);
    const source = o.input.kind === 'stream' ? { items: o.input.source, build: o.build } : undefined;
    const shards: DryRunShard[] = [];
    const estimateTokens = o.options.estimateTokens ?? defaultTokenEstimate;
    const result = await ingestFile(
      inputPath,
      dir,
      { endpoint: o.endpoint, maxBytes: o.maxBytes, maxRequests: o.maxRequests, estimateTokens, keep: new Set(), signal, source },
      async (shard) => {
        shards.push({ index: shard.index, endpoint: shard.endpoint, model: shard.model, requests: shard.requests, bytes: shard.bytes, estimatedInputTokens: shard.tokens ?? 0 });
        await rm(shard.path, { force: true });
      },
    );
    const byModel: DryRunSummary['byModel'] = {};
    for (const shard of shards) {
      const model = (byModel[shard.model] ??= { requests: 0, estimatedInputTokens: 0, shards: 0 });
      model.requests += shard.requests;
      model.estimatedInputTokens += shard.estimatedInputTokens;
      model.shards++;
    }
    const inputUsage = Object.fromEntries(Object.entries(byModel).map(([model, m]) => [model, { input_tokens: m.estimatedInputTokens, output_tokens: 0 }]));
    return {
      dryRun: true,
      requests: result.requests,
      inputBytes: result.inputBytes,
      inputSha256: result.inputSha256,
      shards: shards.sort((a, b) => a.index - b.index),
      byModel,
      estimatedInputTokens: shards.reduce((sum, shard) => sum + shard.estimatedInputTokens, 0),
      estimatedInputCost: estimateCost(inputUsage, o.options.prices),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
