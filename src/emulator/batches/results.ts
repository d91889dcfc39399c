/**
 * A batch's results: running counts and usage while it works, and the output
 * and error files it writes when it stops, in shuffled order as the service's
 * files come.
 */
import { AbortError } from '../../errors.ts';
import type { BatchEndpoint, BatchUsage } from '../../types.ts';
import type { FileStore } from '../store/file-store.ts';
import { emptyUsage } from './state.ts';
import { hash32, shuffleInPlace } from '../../core/seeded-random.ts';
import type { RenderContext, RequestPlan } from '../answers/request-plan.ts';
import { ResultLines } from './result-lines.ts';

/**
 * Prefix sums over the plans in input order. Requests finish in input order,
 * so the counts and usage after `done` requests are one lookup each.
 */
export class PlanTotals {
  readonly total: number;
  private readonly failed: Uint32Array;
  private readonly inputTokens: Float64Array;
  private readonly outputTokens: Float64Array;

  constructor(plans: readonly RequestPlan[]) {
    this.total = plans.length;
    this.failed = new Uint32Array(plans.length + 1);
    this.inputTokens = new Float64Array(plans.length + 1);
    this.outputTokens = new Float64Array(plans.length + 1);
    for (let i = 0; i < plans.length; i++) {
      const plan = plans[i];
      const failed = plan.failure !== null;
      this.failed[i + 1] = this.failed[i] + (failed ? 1 : 0);
      // A failed request, rejected or not, is not billed.
      this.inputTokens[i + 1] = this.inputTokens[i] + (failed ? 0 : plan.inputTokens);
      this.outputTokens[i + 1] = this.outputTokens[i] + (failed ? 0 : plan.outputTokens);
    }
  }

  /** Counts after `done` requests; at the end, every request not done counts as failed. */
  counts(done: number, final: boolean): { total: number; completed: number; failed: number } {
    const d = Math.max(0, Math.min(done, this.total));
    const failed = this.failed[d];
    return { total: this.total, completed: d - failed, failed: failed + (final ? this.total - d : 0) };
  }

  usage(done: number): BatchUsage {
    const d = Math.max(0, Math.min(done, this.total));
    const usage = emptyUsage();
    usage.input_tokens = this.inputTokens[d];
    usage.output_tokens = this.outputTokens[d];
    usage.total_tokens = usage.input_tokens + usage.output_tokens;
    return usage;
  }
}

export interface WriteResultsOptions {
  store: FileStore;
  batchId: string;
  endpoint: BatchEndpoint;
  model: string;
  plans: readonly RequestPlan[];
  /** Requests finished; the rest are written as unfinished with `unfinishedCode`. */
  done: number;
  unfinishedCode: 'batch_cancelled' | 'batch_expired' | null;
  seed: number;
  /** Emulator time in seconds. */
  now: number;
  outputExpiresAfterSeconds: number | null;
  signal?: AbortSignal;
}

/**
 * Writes the output and error files; a file with no lines is not created and
 * its id stays null. The files are handed to the store as generated bodies
 * (rendered again on each read where the store keeps them in memory), except
 * an output file without an answer template, whose size would take a whole
 * rendering to learn: that one is written out once.
 */
export async function writeResultFiles(options: WriteResultsOptions): Promise<{ outputFileId: string | null; errorFileId: string | null }> {
  const { plans, done } = options;
  const ctx: RenderContext = { batchId: options.batchId, endpoint: options.endpoint, model: options.model, created: options.now, seed: options.seed };
  let answered = 0;
  for (let i = 0; i < done && i < plans.length; i++) if (plans[i].failure === null) answered++;
  // Indices, not rendered lines, are shuffled and held: the lines are rendered as they are read.
  const outputIndices = new Uint32Array(answered);
  const errorIndices = new Uint32Array(plans.length - answered);
  for (let i = 0, o = 0, e = 0; i < plans.length; i++) {
    if (i < done && plans[i].failure === null) outputIndices[o++] = i;
    else errorIndices[e++] = i;
  }
  const shuffleSeed = hash32(options.batchId, options.seed);
  shuffleInPlace(outputIndices, shuffleSeed);
  shuffleInPlace(errorIndices, shuffleSeed ^ 0x5bd1e995);
  const lines = new ResultLines(plans, ctx, done, options.unfinishedCode ?? 'batch_expired');
  const write = async (indices: Uint32Array, kind: 'output' | 'error'): Promise<string | null> => {
    if (indices.length === 0) return null;
    const meta = { filename: `${options.batchId}_${kind}.jsonl`, purpose: 'batch_output', expiresAfterSeconds: options.outputExpiresAfterSeconds };
    const file =
      kind === 'output' && !lines.templated
        ? await options.store.create(meta, once(lines.chunks(indices), options.signal))
        : await options.store.createGenerated(meta, lines.body(indices), options.signal);
    return file.id;
  };
  const outputFileId = await write(outputIndices, 'output');
  const errorFileId = await write(errorIndices, 'error');
  return { outputFileId, errorFileId };
}

/** Lines rendered once, as a stream of chunks for a store to keep; stops at an abort. */
async function* once(chunks: Iterable<Buffer>, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  for (const chunk of chunks) {
    if (signal?.aborted) throw new AbortError('writing a result file was aborted');
    yield chunk;
  }
}
