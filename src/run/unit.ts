/**
 * One unit of a run (a shard, or a follow-up retrying some of its requests)
 * driven from wherever its recorded steps left it to the end: upload, submit,
 * poll, download, settle. Every side effect is recorded before it begins and
 * after it ends, so a process killed anywhere resumes here:
 * - upload begun, no file id: a copy the upload stored (its answer lost) is
 *   found by name, size and sha256 and taken; else a half-made Uploads API
 *   upload is cancelled (its id was recorded) and the shard goes up again;
 * - submit begun, no batch id: the create may have happened and only its
 *   answer been lost, so the account's batches are searched for this run's
 *   and unit's tags before creating (never a second batch for one unit);
 * - batch id, no end: polling goes on; ended, not downloaded: download;
 * - downloaded, not settled: the follow-up is cut again (same bytes).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortError, abortMessage } from '../errors.ts';
import type { ApiClient } from '../openai/client.ts';
import { cancelUpload } from '../openai/uploads.ts';
import { findStoredShard } from '../openai/files.ts';
import { uploadShard, type NormalizedShardUploadOptions } from '../openai/upload-shard.ts';
import { findShardBatch, submitShard, type NormalizedSubmitOptions } from '../openai/submit.ts';
import { pollBatch, type NormalizedPollOptions } from '../openai/poll.ts';
import { fileIdOrNull } from '../openai/batches.ts';
import { saveBatchFiles } from '../openai/results.ts';
import type { NormalizedDownloadOptions } from '../openai/download.ts';
import type { TokenScheduler } from '../core/token-scheduler.ts';
import { MAX_DEFERRED, triesOf, type EndedBatch, type RunStep, type UnitFiles, type UnitSpec, type UnitState } from '../core/run-state.ts';
import type { BatchErrorItem, BatchObject, BatchRequest, ShardDescriptor } from '../types.ts';
import { stateWrite } from './file-store.ts';
import { planRetry, readStatuses, writeFailedLines } from './heal.ts';
import type { ProgressTracker } from './progress.ts';
import type { Slots } from './slots.ts';

export const TOKEN_LIMIT_CODE = 'token_limit_exceeded';

/** The limit a token-limit error names ("… Limit: 2,000,000 enqueued tokens. …"), if it names one. */
export function namedTokenLimit(message: string | null | undefined): number | undefined {
  const match = /Limit:\s*([\d,]+)\s+enqueued tokens/i.exec(message ?? '');
  const limit = match ? Number(match[1].replace(/,/g, '')) : Number.NaN;
  return Number.isSafeInteger(limit) && limit > 0 ? limit : undefined;
}

export interface UnitContext {
  dir: string;
  client: ApiClient;
  record: (step: RunStep) => Promise<void>;
  upload: NormalizedShardUploadOptions;
  submit: NormalizedSubmitOptions;
  poll: NormalizedPollOptions;
  download: NormalizedDownloadOptions;
  uploads: Slots;
  submits: Slots;
  downloads: Slots;
  scheduler: TokenScheduler;
  maxAttempts: number;
  retryRejected: boolean;
  /** How long a batch refused on the token limit waits (at most) before it is sent again. */
  tokenLimitRetryMs: number;
  /** Set when tokens are counted (a token limit, or the caller's own estimate). */
  estimateTokens: ((request: BatchRequest) => number) | undefined;
  progress: ProgressTracker;
  /** A follow-up index, never used before in this run. */
  nextFollowUp: () => number;
  /** True once `batchline cancel --state-dir` asked the run to stop sending work. */
  cancelRequested: () => boolean;
  /** Live batches, so a cancel request can reach them. */
  live: Map<number, string>;
  /** Cancels a batch of the run (a cancel was requested); failures are logged, never thrown. */
  cancel: (batchId: string, unit: number) => void;
  signal: AbortSignal;
}

function descriptor(dir: string, spec: UnitSpec): ShardDescriptor {
  const { index, bytes, requests, endpoint, model, firstLine, lastLine, sha256, md5, tokens } = spec;
  return { index, path: join(dir, spec.path), bytes, requests, endpoint, model, firstLine, lastLine, sha256, md5, tokens };
}

function endedBatch(batch: BatchObject): EndedBatch {
  return {
    status: batch.status,
    outputFileId: fileIdOrNull(batch.output_file_id),
    errorFileId: fileIdOrNull(batch.error_file_id),
    requestCounts: { ...batch.request_counts },
    usage: batch.usage ?? null,
    errors: batch.errors?.data ?? [],
  };
}

/** Drives a unit to its end; resolves with the follow-up it made, if any. */
export async function driveUnit(ctx: UnitContext, unit: UnitState): Promise<UnitState['spec'] | null> {
  const { spec } = unit;
  const index = spec.index;
  const throwIfAborted = () => {
    if (ctx.signal.aborted) throw new AbortError(abortMessage(ctx.signal), { shard: index });
  };

  if (!unit.fileId) {
    await ctx.uploads.run(async () => {
      throwIfAborted();
      if (unit.uploadBegun) {
        // An earlier process began this upload and recorded no file: the upload may have ended with only its answer lost.
        const stored = await findStoredShard(ctx.client, descriptor(ctx.dir, spec), ctx.submit.runStartedAtMs, ctx.signal);
        if (stored) {
          await ctx.record({ kind: 'uploaded', unit: index, fileId: stored.id });
          return;
        }
      }
      if (unit.uploadId) {
        // A crash left this Uploads API upload pending: cancel it rather than let it sit for an hour.
        await cancelUpload(ctx.client, unit.uploadId, ctx.signal).catch(() => false);
      }
      ctx.progress.live(index, 'uploading');
      await ctx.record({ kind: 'upload-begun', unit: index });
      const uploaded = await uploadShard(
        ctx.client,
        descriptor(ctx.dir, spec),
        {
          ...ctx.upload,
          onProgress: (event) => ctx.progress.sent(index, event.bytesSent),
          onUploadCreated: (uploadId) => void ctx.record({ kind: 'upload-created', unit: index, uploadId }).catch(() => undefined),
        },
        ctx.signal,
      );
      await ctx.record({ kind: 'uploaded', unit: index, fileId: uploaded.fileId });
      ctx.progress.live(index, 'uploaded');
    }, ctx.signal);
  }

  let release: (() => void) | undefined;
  let seenBeside: number | undefined;
  try {
    if (!unit.batchId) {
      if (!ctx.cancelRequested()) {
        ctx.progress.live(index, 'queued');
        release = await ctx.scheduler.acquire(spec.model, spec.tokens, ctx.signal);
        await ctx.submits.run(async () => {
          throwIfAborted();
          if (ctx.cancelRequested()) return;
          ctx.progress.live(index, 'submitting');
          const resumed = unit.submitBegun;
          const fileId = unit.fileId as string;
          await ctx.record({ kind: 'submit-begun', unit: index, fileId });
          const submitted = await submitShard(ctx.client, { ...descriptor(ctx.dir, spec), fileId }, { ...ctx.submit, adoptExisting: resumed }, ctx.signal);
          await ctx.record({ kind: 'submitted', unit: index, batchId: submitted.batchId, adopted: submitted.adopted });
          ctx.progress.live(index, submitted.batch.status);
        }, ctx.signal);
      }
      if (!unit.batchId && unit.submitBegun) {
        // Cancelled after a create whose answer was lost: the batch it may have made is found and cancelled, never left running.
        const found = await findShardBatch(ctx.client, spec, ctx.submit, ctx.signal);
        if (found) await ctx.record({ kind: 'submitted', unit: index, batchId: found.id, adopted: true });
      }
      if (!unit.batchId) return settleCancelled(ctx, unit);
    } else if (!unit.ended) {
      // Submitted by an earlier process: its tokens are enqueued already.
      release = await ctx.scheduler.acquire(spec.model, spec.tokens, ctx.signal, true);
    }

    if (!unit.ended) {
      const batchId = unit.batchId as string;
      ctx.live.set(index, batchId);
      // Made after the cancel request reached the live batches, or before a restart that found it: cancelled here.
      if (ctx.cancelRequested()) ctx.cancel(batchId, index);
      const final = await pollBatch(
        ctx.client,
        batchId,
        {
          ...ctx.poll,
          onProgress: (event) => {
            ctx.progress.counts(index, event.requestCounts);
            ctx.progress.live(index, event.status);
            if (event.status === 'in_progress' || event.status === 'finalizing') ctx.scheduler.running(spec.model, index);
          },
        },
        ctx.signal,
        index,
      ).catch((err: unknown) => {
        ctx.scheduler.ended(spec.model, index, false);
        throw err;
      });
      ctx.scheduler.ended(spec.model, index, final.status === 'completed');
      // A refusal on the token limit is counted against what runs beside it now (itself no longer counted), before those end too.
      const limitError = tokenLimitErrorOf(final.errors?.data ?? []);
      if (limitError) seenBeside = ctx.scheduler.congested(spec.model, namedTokenLimit(limitError.message));
      ctx.live.delete(index);
      await ctx.record({ kind: 'ended', unit: index, batch: endedBatch(final) });
    }
  } finally {
    release?.();
  }

  const ended = unit.ended as EndedBatch;
  if (!unit.files) {
    await ctx.downloads.run(async () => {
      throwIfAborted();
      const files: UnitFiles = { output: null, error: null, failed: null };
      if (ended.outputFileId || ended.errorFileId) {
        const saved = await saveBatchFiles(ctx.client, unit.batchId as string, join(ctx.dir, 'results'), ctx.download, ctx.signal);
        files.output = saved.output ? `results/${saved.batch.id}_output.jsonl` : null;
        files.error = saved.error ? `results/${saved.batch.id}_error.jsonl` : null;
      }
      if (ended.status === 'failed') {
        const first = ended.errors[0];
        const error = first ? { code: first.code, message: first.message } : { code: 'batch_failed', message: `batch ${unit.batchId} failed` };
        files.failed = `results/${unit.batchId}_failed.jsonl`;
        await stateWrite(join(ctx.dir, 'results'), mkdir(join(ctx.dir, 'results'), { recursive: true }));
        await writeFailedLines(join(ctx.dir, spec.path), join(ctx.dir, files.failed), error, ctx.signal);
      }
      await ctx.record({ kind: 'downloaded', unit: index, files });
    }, ctx.signal);
  }
  ctx.progress.live(index, null);
  return settle(ctx, unit, seenBeside);
}

function tokenLimitErrorOf(errors: readonly BatchErrorItem[]): BatchErrorItem | undefined {
  return errors.find((item) => item.code === TOKEN_LIMIT_CODE);
}

function resultFiles(ctx: UnitContext, files: UnitFiles): Array<{ path: string; output: boolean }> {
  return [
    { path: files.output, output: true },
    { path: files.error, output: false },
    { path: files.failed, output: false },
  ].flatMap(({ path, output }) => (path ? [{ path: join(ctx.dir, path), output }] : []));
}

async function settleCancelled(ctx: UnitContext, unit: UnitState): Promise<null> {
  await ctx.record({ kind: 'settled', unit: unit.spec.index, retried: 0, followUp: null });
  ctx.progress.live(unit.spec.index, null);
  return null;
}

/** Decides the unit's follow-up: the requests without a final answer go again, up to maxAttempts. */
async function settle(ctx: UnitContext, unit: UnitState, seenBeside: number | undefined): Promise<UnitSpec | null> {
  const { spec } = unit;
  const ended = unit.ended as EndedBatch;
  const canRetry = triesOf(spec) < ctx.maxAttempts && !ctx.cancelRequested();
  const limitError = ended.status === 'failed' ? tokenLimitErrorOf(ended.errors) : undefined;
  // The batch never ran: the model's queue on the account was full. The scheduler learnt from it as the poll saw it
  // end (or learns now, on a resume); while other batches of the model ran beside it, the resubmission is not
  // counted as a try (up to MAX_DEFERRED times).
  const others = limitError ? (seenBeside ?? ctx.scheduler.congested(spec.model, namedTokenLimit(limitError.message))) : 0;
  const deferred = others > 0 && (spec.deferred ?? 0) < MAX_DEFERRED && !ctx.cancelRequested();
  if (limitError && (canRetry || deferred)) {
    // The same file goes again once the model's enqueued tokens have gone down.
    await ctx.scheduler.afterNextEnd(spec.model, (ms) => sleep(ms, undefined, { signal: ctx.signal }), ctx.tokenLimitRetryMs);
    const followUp: UnitSpec = {
      ...spec,
      index: ctx.nextFollowUp(),
      attempt: spec.attempt + 1,
      deferred: (spec.deferred ?? 0) + (deferred ? 1 : 0),
      parent: spec.index,
      fileId: unit.fileId ?? undefined,
    };
    await ctx.record({ kind: 'settled', unit: spec.index, retried: spec.requests, followUp });
    return followUp;
  }
  const counts = ended.requestCounts;
  if (ended.status === 'completed' && !ended.errorFileId && counts.failed === 0 && counts.completed === spec.requests) {
    // Every request answered, nothing in an error file: nothing to read, nothing to retry.
    await ctx.record({ kind: 'settled', unit: spec.index, retried: 0, followUp: null });
    return null;
  }
  const statuses = await readStatuses(resultFiles(ctx, unit.files as UnitFiles), ctx.signal);
  const index = canRetry ? ctx.nextFollowUp() : null;
  const path = index === null ? null : `shards/retry-${index}.jsonl`;
  const plan = await planRetry(join(ctx.dir, spec.path), statuses, {
    retryRejected: ctx.retryRejected,
    outPath: path === null ? null : join(ctx.dir, path),
    estimateTokens: ctx.estimateTokens,
    span: { firstLine: spec.firstLine, lastLine: spec.lastLine },
    signal: ctx.signal,
  });
  const followUp: UnitSpec | null =
    plan.file && index !== null && path !== null
      ? { ...spec, ...plan.file, index, attempt: spec.attempt + 1, parent: spec.index, path, fileId: undefined }
      : null;
  await ctx.record({ kind: 'settled', unit: spec.index, retried: followUp ? plan.retry : 0, followUp });
  return followUp;
}
