/**
 * A run's progress (core/run-progress.ts) as text: the plain line logged
 * when stderr is not a terminal, and the lines of the bars drawn when it is.
 * Pure functions of the snapshot, so each piece is tested on its own;
 * progress.ts decides when to write them.
 */
import type { RunProgress, UnitState } from '../core/run-progress.ts';

/** Where a batch stands, in the order a batch moves through them. */
export const UNIT_STATE_ORDER: readonly UnitState[] = [
  'sharded',
  'uploading',
  'uploaded',
  'queued',
  'submitting',
  'validating',
  'in_progress',
  'finalizing',
  'cancelling',
  'completed',
  'failed',
  'expired',
  'cancelled',
  'downloaded',
];

/** The states in which a batch has ended: the API's terminal ones, and ours once its results are down. */
const ENDED_STATES: ReadonlySet<UnitState> = new Set<UnitState>(['completed', 'failed', 'expired', 'cancelled', 'downloaded']);

const NUMBER = new Intl.NumberFormat('en-US');

/** 40000 → `40,000`. */
export function formatCount(n: number): string {
  return NUMBER.format(n);
}

/** 1,234,567 bytes → `1.2 MB` (decimal units, as the Batch API's limits are given). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 999.95 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** 42,000 ms → `00:42`; an hour or more → `1:02:03`. */
export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const mmss = `${String(minutes).padStart(2, '0')}:${String(seconds).padStart(2, '0')}`;
  return hours > 0 ? `${hours}:${mmss}` : mmss;
}

/** How many batches the run has, whatever their state. */
export function countBatches(batches: RunProgress['batches']): number {
  let n = 0;
  for (const state of UNIT_STATE_ORDER) n += batches[state] ?? 0;
  return n;
}

/** How many of them have ended. */
export function countEndedBatches(batches: RunProgress['batches']): number {
  let n = 0;
  for (const state of ENDED_STATES) n += batches[state] ?? 0;
  return n;
}

/** `3 batches: 1 in_progress, 2 completed` (states with none left out; `0 batches` before the first). */
export function formatBatchStates(batches: RunProgress['batches']): string {
  const total = countBatches(batches);
  const states = UNIT_STATE_ORDER.filter((state) => (batches[state] ?? 0) > 0).map((state) => `${formatCount(batches[state] as number)} ${state}`);
  const head = `${formatCount(total)} ${total === 1 ? 'batch' : 'batches'}`;
  return states.length > 0 ? `${head}: ${states.join(', ')}` : head;
}

/** `40,000/? requests sharded`, the total once the input has been read to its end. */
export function formatSharded(requests: RunProgress['requests']): string {
  return `${formatCount(requests.sharded)}/${requests.total === null ? '?' : formatCount(requests.total)} requests sharded`;
}

/** `35,000/100,000 requests done (12 failed)`: completed and failed as the API counts them. */
export function formatRequestsDone(counts: RunProgress['requestCounts']): string {
  const done = `${formatCount(counts.completed + counts.failed)}/${formatCount(counts.total)} requests done`;
  return counts.failed > 0 ? `${done} (${formatCount(counts.failed)} failed)` : done;
}

/** `2 follow-ups (1,234 requests retried)`, or nothing before the first. */
export function formatFollowUps(progress: Pick<RunProgress, 'followUps' | 'retriedRequests'>): string | null {
  if (progress.followUps === 0) return null;
  const head = `${formatCount(progress.followUps)} ${progress.followUps === 1 ? 'follow-up' : 'follow-ups'}`;
  return progress.retriedRequests > 0 ? `${head} (${formatCount(progress.retriedRequests)} requests retried)` : head;
}

/**
 * The plain line, for logs: `run run_x (running): 40,000/? requests sharded ·
 * 12.3 MB/40.1 MB uploaded · 3 batches: 1 in_progress, 2 completed ·
 * 35,000/100,000 requests done (12 failed) · 2 follow-ups · 00:42`.
 */
export function formatProgressLine(progress: RunProgress): string {
  const parts = [formatSharded(progress.requests)];
  if (progress.bytes.sharded > 0) parts.push(`${formatBytes(progress.bytes.uploaded)}/${formatBytes(progress.bytes.sharded)} uploaded`);
  parts.push(formatBatchStates(progress.batches), formatRequestsDone(progress.requestCounts));
  const followUps = formatFollowUps(progress);
  if (followUps !== null) parts.push(followUps);
  parts.push(formatElapsed(progress.elapsedMs));
  return `run ${progress.runId} (${progress.phase}): ${parts.join(' · ')}`;
}

/** `████████░░░░░░░░`: `done` of `total` in `width` cells; all empty while the total is unknown or zero. */
export function formatBar(done: number, total: number | null, width: number): string {
  const share = total === null || total <= 0 ? 0 : Math.min(1, Math.max(0, done / total));
  const full = Math.floor(share * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

/** `text` cut to `width` columns (every character here is one column wide). */
export function fitWidth(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

const LABEL_WIDTH = 18;
const BAR_WIDTH = 24;
/** Below this, a bar says too little to be worth its room: the counts go first. */
const MIN_BAR_WIDTH = 6;

/** `label  ████░░░░  counts`; on a narrow terminal the bar shrinks, then goes, before the counts are cut. */
function barLine(label: string, done: number, total: number | null, counts: string, width: number): string {
  const room = width - LABEL_WIDTH - 2 - counts.length;
  const bar = room >= MIN_BAR_WIDTH ? `${formatBar(done, total, Math.min(BAR_WIDTH, room))}  ` : '';
  return fitWidth(`${label.padEnd(LABEL_WIDTH)}${bar}${counts}`, width);
}

/**
 * The lines drawn on a terminal, `width` columns wide: requests sharded,
 * bytes uploaded, batches ended, requests done (each a bar), then a status
 * line: run id, phase, elapsed time, batches by state, follow-ups.
 */
export function formatBarLines(progress: RunProgress, width: number): string[] {
  const { requests, bytes, batches, requestCounts } = progress;
  const batchCount = countBatches(batches);
  const ended = countEndedBatches(batches);
  const done = requestCounts.completed + requestCounts.failed;
  // What matters most comes first: a narrow terminal cuts the end of the line.
  const status = [progress.runId, progress.phase, formatElapsed(progress.elapsedMs), formatBatchStates(batches)];
  const followUps = formatFollowUps(progress);
  if (followUps !== null) status.push(followUps);
  return [
    barLine('requests sharded', requests.sharded, requests.total, `${formatCount(requests.sharded)}/${requests.total === null ? '?' : formatCount(requests.total)}`, width),
    barLine('bytes uploaded', bytes.uploaded, bytes.sharded, `${formatBytes(bytes.uploaded)}/${formatBytes(bytes.sharded)}`, width),
    barLine('batches ended', ended, batchCount, `${formatCount(ended)}/${formatCount(batchCount)}`, width),
    barLine('requests done', done, requestCounts.total, formatRequestsDone(requestCounts).replace(' requests done', ''), width),
    fitWidth(status.join(' · '), width),
  ];
}
