/**
 * A run seen from outside, by its state dir: where it stands
 * (`batchline status --state-dir`), and stopping it (`batchline cancel
 * --state-dir`). Cancelling leaves a file the running process checks twice a
 * second: it then sends nothing new, heals nothing, and cancels its live
 * batches itself. When no process runs the state dir, the live batches are
 * cancelled here, through the API (for a local run, through its emulator
 * started from the state dir).
 */
import { writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BatchlineError, IoError, OptionError } from '../errors.ts';
import { foldRunSteps, type RunHeader } from '../core/run-state.ts';
import type { RunProgress } from '../core/run-progress.ts';
import { ApiClient, resolveClient, type ClientOptions } from '../openai/client.ts';
import { cancelBatch, isTerminal } from '../openai/batches.ts';
import { findShardBatch, normalizeSubmitOptions } from '../openai/submit.ts';
import { FileRunStore, stateWrite } from './file-store.ts';
import { lockOwner } from './lock.ts';
import { ProgressTracker } from './progress.ts';
import { summarizeBatches, type RunBatchSummary } from './summary.ts';
import { startLocalApi } from './local.ts';

export const CANCEL_FILE = 'cancel-requested';

export interface RunStatus {
  stateDir: string;
  runId: string;
  createdAt: number;
  /** The process running it now, if one is. */
  owner: { pid: number; host: string } | null;
  cancelRequested: boolean;
  ingested: boolean;
  /** Set once the results were joined. */
  joined: { output: string | null; requests: number } | null;
  progress: RunProgress;
  batches: RunBatchSummary[];
}

async function loadRun(stateDir: string): Promise<{ header: RunHeader; store: FileRunStore; steps: Awaited<ReturnType<FileRunStore['load']>>['steps'] }> {
  const store = new FileRunStore(stateDir, { readOnly: true });
  const { header, steps } = await store.load();
  if (!header) throw new IoError('RUN_NOT_FOUND', `${stateDir} holds no run (no run.json)`, { path: stateDir });
  return { header, store, steps };
}

export async function runStatus(stateDir: string): Promise<RunStatus> {
  const { header, steps } = await loadRun(stateDir);
  const state = foldRunSteps(steps);
  const progress = new ProgressTracker(header.runId, state, undefined);
  progress.phase(state.joined ? 'done' : state.ingested ? 'running' : 'ingest');
  const owner = await lockOwner(stateDir);
  return {
    stateDir,
    runId: header.runId,
    createdAt: header.createdAt,
    owner: owner ? { pid: owner.pid, host: owner.host } : null,
    cancelRequested: existsSync(join(stateDir, CANCEL_FILE)),
    ingested: state.ingested !== null,
    joined: state.joined ? { output: state.joined.output, requests: state.joined.requests } : null,
    progress: progress.snapshot(),
    batches: summarizeBatches(state, stateDir).batches,
  };
}

export interface CancelRunOptions {
  /** The API, for a run no process is running now (not needed for a local run). */
  client?: ApiClient | ClientOptions | undefined;
  signal?: AbortSignal | undefined;
}

export interface CancelRunResult {
  runId: string;
  /** True when a live process was asked to stop and cancel its batches itself. */
  handedToLiveRun: boolean;
  /** Batches cancelled here (when no process runs the state dir). */
  cancelled: string[];
}

export async function cancelRun(stateDir: string, options: CancelRunOptions = {}): Promise<CancelRunResult> {
  const { header, steps } = await loadRun(stateDir);
  const marker = join(stateDir, CANCEL_FILE);
  const ask = () => stateWrite(marker, writeFile(marker, `${JSON.stringify({ requestedAt: new Date().toISOString() })}\n`));
  if (await lockOwner(stateDir)) {
    await ask();
    return { runId: header.runId, handedToLiveRun: true, cancelled: [] };
  }
  const units = [...foldRunSteps(steps).units.values()];
  const running = units.filter((unit) => unit.batchId && !unit.ended);
  // A create whose answer was lost may have made a batch: it is looked up by its tags.
  const lost = units.filter((unit) => unit.submitBegun && !unit.batchId && !unit.settled);
  if (running.length + lost.length === 0) {
    await ask();
    return { runId: header.runId, handedToLiveRun: false, cancelled: [] };
  }
  if (!header.local && !options.client) {
    throw new OptionError('MISSING_API_KEY', 'cancelling the batches of a stopped run needs the API: a client, or OPENAI_API_KEY', { option: 'client' });
  }
  await ask();
  let close: (() => Promise<void>) | undefined;
  let client: ApiClient;
  if (header.local) {
    const local = await startLocalApi(join(stateDir, 'emulator'), {});
    close = local.close;
    client = new ApiClient({ baseURL: local.baseURL, apiKey: 'local' });
  } else {
    client = resolveClient(options.client as ApiClient | ClientOptions);
  }
  try {
    const live = running.map((unit) => unit.batchId as string);
    const submit = normalizeSubmitOptions({ runId: header.runId, runStartedAt: header.createdAt });
    for (const unit of lost) {
      const found = await findShardBatch(client, unit.spec, submit, options.signal);
      if (found && !isTerminal(found)) live.push(found.id);
    }
    const cancelled: string[] = [];
    for (const batchId of live) {
      const batch = await cancelBatch(client, batchId, { signal: options.signal }).catch((err: unknown) => {
        // A batch that ended meanwhile cannot be cancelled, and needs not be.
        if (err instanceof BatchlineError && err.code === 'BATCH_NOT_CANCELLABLE') return null;
        throw err;
      });
      if (batch) cancelled.push(batchId);
    }
    return { runId: header.runId, handedToLiveRun: false, cancelled };
  } finally {
    await close?.();
  }
}
