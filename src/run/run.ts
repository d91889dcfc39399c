/**
 * runBatch: the whole trip, overlapped and resumable. Ingest shards the
 * input into the state dir; each shard, as soon as it is sealed, is driven
 * through upload, submit, poll, download and settle by its own task (unit.ts),
 * with bounded uploads, submits and downloads, every batch polled at once on
 * one request budget, and the token scheduler between upload and submit. A
 * settled unit whose requests need another try spawns a follow-up unit. The
 * join starts once the input is sharded and takes each unit's final result
 * lines as it settles (final-results.ts); after the last unit it reads the
 * input once more and writes one result per request, in input order, to the
 * sink.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AbortError, abortMessage, BatchlineError } from '../errors.ts';
import { foldRunSteps, applyRunStep, triesOf, type RunHeader, type RunState, type RunStep, type UnitSpec, type UnitState } from '../core/run-state.ts';
import { TokenScheduler } from '../core/token-scheduler.ts';
import { ApiClient, resolveClient } from '../openai/client.ts';
import { cancelBatch } from '../openai/batches.ts';
import { normalizeShardUploadOptions } from '../openai/upload-shard.ts';
import { newRunId, normalizeSubmitOptions } from '../openai/submit.ts';
import { normalizePollOptions } from '../openai/poll.ts';
import { normalizeDownloadOptions } from '../openai/download.ts';
import { newJoinStats, normalizeJoinOptions } from '../join/options.ts';
import { runJoin, runJoinLines } from '../join/run.ts';
import { createCallbackSink, createJsonlSink } from '../streams/sink.ts';
import type { ResultStatus } from '../types.ts';
import { FileRunStore, stateWrite } from './file-store.ts';
import { ingestFile, validateInput } from './ingest.ts';
import { acquireRunLock } from './lock.ts';
import { normalizeRunOptions, type RunOptions } from './options.ts';
import { ProgressTracker } from './progress.ts';
import { Slots } from './slots.ts';
import { hashFile, spoolSource, SPOOL_FILE } from './source.ts';
import { summarizeBatches, type RunSummary } from './summary.ts';
import { driveUnit, type UnitContext } from './unit.ts';
import { defaultTokenEstimate } from './tokens.ts';
import { startLocalApi } from './local.ts';
import { CANCEL_FILE } from './control.ts';
import { SettledUnits } from './final-results.ts';
import { dryRun, type DryRunSummary } from './dry-run.ts';

const CANCEL_CHECK_MS = 500;

export type { RunSummary } from './summary.ts';

/**
 * What a process killed mid-join leaves, removed before the run goes on (the
 * lock is held, so nothing else writes them): the join's temp directories in
 * the state dir, and the sink's half-written `<output>.partial-<hex>` files.
 */
async function clearLeftovers(stateDir: string, output: string | undefined): Promise<void> {
  const remove = async (dir: string, name: RegExp) => {
    const names = await readdir(dir).catch(() => [] as string[]);
    await Promise.all(names.filter((n) => name.test(n)).map((n) => rm(join(dir, n), { recursive: true, force: true })));
  };
  await remove(stateDir, /^batchline-join-/);
  if (output !== undefined) {
    const escaped = basename(output).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await remove(dirname(resolve(output)), new RegExp(`^${escaped}\\.partial-[0-9a-f]{8}$`));
  }
}

async function drain(results: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of results) void _;
}

/** "try 2 of 3", or, for a token-limit resubmission that does not count, why not. */
function retryNote(parent: UnitSpec, followUp: UnitSpec, maxAttempts: number): string {
  if ((followUp.deferred ?? 0) > (parent.deferred ?? 0)) return "not counted as a try: the model's queue on the account was full";
  return `try ${triesOf(followUp)} of ${maxAttempts}`;
}

/** What a dry run reports: the shards a run would send, with their estimated tokens; no upload, no state. */
export async function planRun(options: RunOptions): Promise<DryRunSummary> {
  return dryRun(normalizeRunOptions({ ...options, dryRun: true }));
}

/**
 * Runs the whole trip (see the module comment). With `dryRun: true` it
 * returns planRun's DryRunSummary instead of running.
 */
export async function runBatch(options: RunOptions & { dryRun: true }): Promise<DryRunSummary>;
export async function runBatch(options: RunOptions): Promise<RunSummary>;
export async function runBatch(options: RunOptions): Promise<RunSummary | DryRunSummary> {
  const o = normalizeRunOptions(options);
  if (o.dryRun) return dryRun(o);
  const started = performance.now();
  await stateWrite(o.stateDir, mkdir(o.stateDir, { recursive: true }));
  const lock = await acquireRunLock(o.stateDir);
  const store = new FileRunStore(o.stateDir);
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  let closeApi: (() => Promise<void>) | undefined;
  let cancelTimer: NodeJS.Timeout | undefined;
  try {
    const loaded = await store.load();
    let header = loaded.header;
    const resumed = header !== null;
    if (header) {
      if (header.fingerprint !== o.fingerprint) {
        throw new BatchlineError(
          'RUN_OPTIONS_CHANGED',
          `the run in ${o.stateDir} was made with other options (${JSON.stringify(header.settings)}); run it with those, or use another state dir`,
        );
      }
    } else {
      header = { version: 1, runId: newRunId(), createdAt: Date.now(), fingerprint: o.fingerprint, settings: o.settings, input: o.input.kind === 'file' ? { kind: 'file', path: o.input.path } : { kind: 'stream' }, local: o.local !== null };
      await store.begin(header);
    }
    const state = foldRunSteps(loaded.steps);
    if (resumed) await clearLeftovers(o.stateDir, typeof o.output === 'string' ? o.output : undefined);
    options.onStart?.({ runId: header.runId, stateDir: o.stateDir, resumed });
    const log = options.onLog ?? (() => undefined);
    log(resumed ? `run ${header.runId} resumes after ${state.steps} recorded steps` : `run ${header.runId} begins`);

    let apiRetries = 0;
    let client: ApiClient;
    if (o.local) {
      const local = await startLocalApi(join(o.stateDir, 'emulator'), o.local);
      closeApi = local.close;
      client = new ApiClient({ baseURL: local.baseURL, apiKey: 'local', retry: { baseDelayMs: 20 }, onRetry: () => void apiRetries++ });
    } else if (o.options.client instanceof ApiClient) {
      client = o.options.client;
    } else {
      client = resolveClient({ ...o.options.client, ...(o.options.baseURL ? { baseURL: o.options.baseURL } : {}), ...(o.options.apiKey ? { apiKey: o.options.apiKey } : {}), onRetry: () => void apiRetries++ });
    }

    // The input: verified against the recorded sha256 on a resume; a stream is spooled as the ingest shards it.
    const inputPath = o.input.kind === 'file' ? o.input.path : join(o.stateDir, SPOOL_FILE);
    if (state.ingested) {
      const seen = o.input.kind === 'file' ? await hashFile(inputPath, signal) : await spoolSource(o.input.source, null, o.build, signal);
      if (seen.sha256 !== state.ingested.inputSha256) {
        throw new BatchlineError('RUN_INPUT_CHANGED', `the input is not the one run ${header.runId} in ${o.stateDir} began with (sha256 ${seen.sha256.slice(0, 16)}…, recorded ${state.ingested.inputSha256.slice(0, 16)}…)`);
      }
    }

    const progress = new ProgressTracker(header.runId, state, options.onProgress);
    const record = async (step: RunStep): Promise<void> => {
      await store.record(step);
      applyRunStep(state, step);
      progress.emit();
    };
    let nextFollowUp = state.nextFollowUp;
    let cancelRequested = existsSync(join(o.stateDir, CANCEL_FILE));
    const live = new Map<number, string>();
    // Counted only where they are used (a token limit) or asked for: the estimate costs ~2 µs a request.
    const estimateTokens = options.estimateTokens ?? (o.tokenLimit !== undefined ? defaultTokenEstimate : undefined);
    const ctx: UnitContext = {
      dir: o.stateDir,
      client,
      record,
      upload: normalizeShardUploadOptions({}),
      submit: normalizeSubmitOptions({ runId: header.runId, runStartedAt: header.createdAt, metadata: o.metadata, outputExpiresAfter: o.outputExpiresAfter }),
      poll: normalizePollOptions({ initialDelayMs: 1000, maxDelayMs: 60_000, ...o.poll, onFailed: 'emit' }),
      download: normalizeDownloadOptions({}),
      uploads: new Slots(o.concurrency),
      submits: new Slots(4),
      downloads: new Slots(2),
      scheduler: new TokenScheduler(o.tokenLimit),
      maxAttempts: o.maxAttempts,
      retryRejected: o.retryRejected,
      tokenLimitRetryMs: o.tokenLimitRetryMs,
      estimateTokens,
      progress,
      nextFollowUp: () => nextFollowUp++,
      cancelRequested: () => cancelRequested,
      live,
      cancel: (batchId, unit) => {
        cancelBatch(client, batchId, { signal, shard: unit }).catch((err: unknown) => {
          // One that ended meanwhile needs no cancel; any other failure is said, and the batch polled to its end.
          if (!(err instanceof BatchlineError && err.code === 'BATCH_NOT_CANCELLABLE') && !signal.aborted) log(`cannot cancel batch ${batchId}: ${(err as Error).message}`);
        });
      },
      signal,
    };

    // A cancel asked for from another process (`batchline cancel --state-dir`): nothing new goes out, what runs is cancelled.
    cancelTimer = setInterval(() => {
      if (cancelRequested || !existsSync(join(o.stateDir, CANCEL_FILE))) return;
      cancelRequested = true;
      log(`cancel requested: cancelling ${live.size} running batches, sending nothing more`);
      for (const [unit, batchId] of live) ctx.cancel(batchId, unit);
    }, CANCEL_CHECK_MS);
    cancelTimer.unref();

    // Every unit runs as a task of its own; the first failure stops them all (the run stays resumable).
    const tasks = new Set<Promise<void>>();
    let failure: unknown;
    const fail = (err: unknown): void => {
      failure ??= err;
      stop.abort(err);
    };
    // Settled units feed the join as they settle, so its first two passes run while batches still do.
    const settled = new SettledUnits();
    for (const unit of state.units.values()) if (unit.settled) settled.push(unit);
    const spawn = (unit: UnitState): void => {
      const task = driveUnit(ctx, unit).then(
        (followUp) => {
          // The follow-up's unit exists before this one is handed to the join, which looks it up.
          if (followUp) spawn(state.units.get(followUp.index) as UnitState);
          settled.push(unit);
          if (followUp) log(`batch ${unit.batchId ?? unit.spec.index}: ${followUp.requests} requests go again (${retryNote(unit.spec, followUp, o.maxAttempts)})`);
        },
        (err: unknown) => fail(err),
      );
      tasks.add(task);
      void task.finally(() => tasks.delete(task));
    };
    // Batches an earlier process submitted count their tokens in first: new ones queue behind them.
    const running = (unit: UnitState) => unit.batchId !== null && !unit.ended;
    const unsettled = [...state.units.values()].filter((unit) => !unit.settled);
    for (const unit of [...unsettled.filter(running), ...unsettled.filter((unit) => !running(unit))]) spawn(unit);

    // The join starts once the input is all sharded (its requests are what it indexes) and ends after the last unit.
    const joinStats = newJoinStats();
    let joining: Promise<void> | undefined;
    const startJoin = (): void => {
      const joinOptions = normalizeJoinOptions({ input: inputPath, results: [settled.lines(o.stateDir, state, signal)], includeRequest: o.includeRequest, tempDir: o.stateDir, signal });
      // A callback gets result objects; a JSONL file or stream gets lines written from the result lines' bytes.
      const output = o.output;
      if (typeof output === 'function') {
        joining = pipeline(Readable.from(runJoin(joinOptions, joinStats, { inputChecked: true })), createCallbackSink(output, { signal }), { signal }).catch(fail);
        return;
      }
      const lines = runJoinLines(joinOptions, joinStats, { inputChecked: true });
      joining = (output === undefined ? drain(lines) : pipeline(Readable.from(lines), createJsonlSink(output as string | NodeJS.WritableStream, { signal }), { signal })).catch(fail);
    };
    if (state.ingested) startJoin();

    if (!state.ingested) {
      const recorded = new Set([...state.units.values()].filter((u) => u.spec.attempt === 1).map((u) => u.spec.path));
      // Read as it is sharded, or (validateFirst) spooled whole and checked before the first upload.
      const streamed = o.input.kind === 'stream' && !o.validateFirst;
      try {
        if (o.validateFirst) {
          if (o.input.kind === 'stream') await spoolSource(o.input.source, inputPath, o.build, signal);
          log('checking every request before the first upload');
          await validateInput(inputPath, { endpoint: o.endpoint, maxBytes: o.maxBytes, maxRequests: o.maxRequests, signal });
        }
        const result = await ingestFile(
          inputPath,
          o.stateDir,
          {
            endpoint: o.endpoint,
            maxBytes: o.maxBytes,
            maxRequests: o.maxRequests,
            estimateTokens,
            signal,
            keep: recorded,
            source: streamed && o.input.kind === 'stream' ? { items: o.input.source, build: o.build } : undefined,
          },
          async (shard) => {
            const known = state.units.get(shard.index);
            const path = `shards/${shard.path.split(/[\\/]/).pop()}`;
            if (known) {
              await stateWrite(shard.path, rm(shard.path, { force: true }));
              if (known.spec.sha256 !== shard.sha256 || known.spec.requests !== shard.requests) {
                throw new BatchlineError('RUN_INPUT_CHANGED', `shard ${shard.index} of the input differs from the one run ${header.runId} sent: the input changed`, { shard: shard.index });
              }
              return;
            }
            const { index, bytes, requests, endpoint, model, firstLine, lastLine, sha256, md5 } = shard;
            await record({ kind: 'shard', unit: { index, origin: index, attempt: 1, parent: null, path, bytes, requests, endpoint, model, firstLine, lastLine, sha256, md5, tokens: shard.tokens ?? 0 } });
            spawn(state.units.get(index) as UnitState);
          },
        );
        const firstTries = [...state.units.values()].filter((u) => u.spec.attempt === 1).length;
        if (firstTries !== result.shards) {
          throw new BatchlineError('RUN_INPUT_CHANGED', `the input now makes ${result.shards} shards, the run recorded ${firstTries}: the input changed`);
        }
        await record({ kind: 'ingested', ...result });
        progress.requestsTotal(result.requests);
        startJoin();
      } catch (err) {
        fail(err);
      }
    }
    progress.phase('running');
    while (tasks.size > 0) await Promise.allSettled([...tasks]);
    settled.close();
    if (failure === undefined) {
      progress.phase('joining');
      await joining;
    }
    if (failure !== undefined) {
      if (options.signal?.aborted) throw new AbortError(abortMessage(options.signal));
      throw failure;
    }

    const stats = joinStats;
    await record({ kind: 'joined', output: typeof o.output === 'string' ? o.output : null, requests: stats.requests });
    progress.phase('done');
    const counts: Record<ResultStatus, number> = {
      succeeded: stats.succeeded,
      rejected: stats.rejected,
      failed: stats.failed,
      expired: stats.expired,
      cancelled: stats.cancelled,
      missing: stats.missing,
    };
    return {
      runId: header.runId,
      stateDir: o.stateDir,
      resumed,
      output: typeof o.output === 'string' ? o.output : null,
      requests: stats.requests,
      counts,
      ...summarizeBatches(state, o.stateDir, options.prices, estimateTokens !== undefined),
      apiRetries,
      cancelled: cancelRequested,
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    if (cancelTimer) clearInterval(cancelTimer);
    stop.abort(new AbortError('the run ended'));
    await store.close().catch(() => undefined);
    await closeApi?.().catch(() => undefined);
    await lock.release().catch(() => undefined);
  }
}

export type { RunHeader, RunState };
