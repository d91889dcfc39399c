import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import t from 'tap';
import { createRunProgressDisplay } from '../src/cli/progress.ts';
import {
  countBatches,
  countEndedBatches,
  fitWidth,
  formatBar,
  formatBarLines,
  formatBatchStates,
  formatBytes,
  formatCount,
  formatElapsed,
  formatFollowUps,
  formatProgressLine,
  formatRequestsDone,
  formatSharded,
} from '../src/cli/progress-format.ts';
import type { RunProgress } from '../src/core/run-progress.ts';
import { waitFor } from './helpers/cli.ts';

const PROGRESS: RunProgress = {
  runId: 'run_x',
  phase: 'running',
  requests: { sharded: 40_000, total: null },
  bytes: { sharded: 40_100_000, uploaded: 12_300_000 },
  batches: { completed: 2, in_progress: 1 },
  requestCounts: { total: 100_000, completed: 34_988, failed: 12 },
  followUps: 2,
  retriedRequests: 1_234,
  elapsedMs: 42_000,
};

function sink(isTTY?: boolean, columns?: number): { stream: PassThrough; text(): string; plain(): string; lines(): string[] } {
  const stream = new PassThrough();
  if (isTTY !== undefined) Object.assign(stream, { isTTY });
  if (columns !== undefined) Object.assign(stream, { columns });
  let text = '';
  stream.on('data', (chunk) => (text += chunk));
  return {
    stream,
    text: () => text,
    plain: () => stripVTControlCharacters(text),
    lines: () => text.split('\n').filter(Boolean),
  };
}

t.test('numbers, bytes and times as the lines show them', async (t) => {
  t.equal(formatCount(40_000), '40,000');
  t.equal(formatCount(0), '0');
  t.same([0, 999, 1000, 1_234_567, 999_949, 999_950, 200_000_000_000, 5e15].map(formatBytes), ['0 B', '999 B', '1.0 kB', '1.2 MB', '999.9 kB', '1.0 MB', '200.0 GB', '5000.0 TB']);
  t.same([0, 999, 42_000, 600_000, 3_723_000, 36_000_000, -5].map(formatElapsed), ['00:00', '00:00', '00:42', '10:00', '1:02:03', '10:00:00', '00:00']);
});

t.test('batches by state: in the order a batch moves, empty states left out', async (t) => {
  t.equal(formatBatchStates({}), '0 batches');
  t.equal(formatBatchStates({ in_progress: 1 }), '1 batch: 1 in_progress');
  t.equal(formatBatchStates({ downloaded: 4, sharded: 1, completed: 0, uploading: 2, failed: 1 }), '8 batches: 1 sharded, 2 uploading, 1 failed, 4 downloaded');
  t.equal(countBatches({ sharded: 1, in_progress: 2, downloaded: 3 }), 6);
  t.equal(countEndedBatches({ sharded: 1, in_progress: 2, completed: 1, failed: 1, expired: 1, cancelled: 1, cancelling: 5, downloaded: 3 }), 7);
});

t.test('the pieces of a line', async (t) => {
  t.equal(formatSharded({ sharded: 40_000, total: null }), '40,000/? requests sharded');
  t.equal(formatSharded({ sharded: 40_000, total: 100_000 }), '40,000/100,000 requests sharded');
  t.equal(formatRequestsDone({ total: 100_000, completed: 34_988, failed: 12 }), '35,000/100,000 requests done (12 failed)');
  t.equal(formatRequestsDone({ total: 10, completed: 3, failed: 0 }), '3/10 requests done');
  t.equal(formatFollowUps({ followUps: 0, retriedRequests: 0 }), null);
  t.equal(formatFollowUps({ followUps: 1, retriedRequests: 0 }), '1 follow-up');
  t.equal(formatFollowUps({ followUps: 2, retriedRequests: 1_234 }), '2 follow-ups (1,234 requests retried)');
});

t.test('the plain line', async (t) => {
  t.equal(
    formatProgressLine(PROGRESS),
    'run run_x (running): 40,000/? requests sharded · 12.3 MB/40.1 MB uploaded · 3 batches: 1 in_progress, 2 completed · ' +
      '35,000/100,000 requests done (12 failed) · 2 follow-ups (1,234 requests retried) · 00:42',
  );
  const start: RunProgress = { ...PROGRESS, phase: 'ingest', requests: { sharded: 0, total: null }, bytes: { sharded: 0, uploaded: 0 }, batches: {}, requestCounts: { total: 0, completed: 0, failed: 0 }, followUps: 0, retriedRequests: 0, elapsedMs: 0 };
  t.equal(formatProgressLine(start), 'run run_x (ingest): 0/? requests sharded · 0 batches · 0/0 requests done · 00:00');
});

t.test('bars: filled by share, empty while the total is unknown', async (t) => {
  t.equal(formatBar(0, 10, 10), '░░░░░░░░░░');
  t.equal(formatBar(5, 10, 10), '█████░░░░░');
  t.equal(formatBar(10, 10, 4), '████');
  t.equal(formatBar(15, 10, 4), '████', 'never past full');
  t.equal(formatBar(5, null, 4), '░░░░');
  t.equal(formatBar(5, 0, 4), '░░░░');
  t.equal(fitWidth('abcdef', 6), 'abcdef');
  t.equal(fitWidth('abcdefg', 6), 'abcde…');
  t.equal(fitWidth('abc', 0), '…');
});

t.test('the terminal lines: four bars and a status line, each within the width', async (t) => {
  const lines = formatBarLines(PROGRESS, 120);
  t.equal(lines.length, 5);
  t.match(lines[0], /^requests sharded +░{24} {2}40,000\/\?$/);
  t.match(lines[1], /^bytes uploaded +█{7}░{17} {2}12\.3 MB\/40\.1 MB$/);
  t.match(lines[2], /^batches ended +█{16}░{8} {2}2\/3$/);
  t.match(lines[3], /^requests done +█{8}░{16} {2}35,000\/100,000 \(12 failed\)$/);
  t.equal(lines[4], 'run_x · running · 00:42 · 3 batches: 1 in_progress, 2 completed · 2 follow-ups (1,234 requests retried)');
  for (const width of [30, 40, 60]) for (const line of formatBarLines(PROGRESS, width)) t.ok(line.length <= width, `${JSON.stringify(line)} fits ${width} columns`);
  const narrow = formatBarLines(PROGRESS, 60);
  t.match(narrow[0], /^requests sharded +░{24} {2}40,000\/\?$/, 'room for the whole bar');
  t.match(narrow[3], /^requests done +█{4}░{10} {2}35,000\/100,000 \(12 failed\)$/, 'a shorter bar before the counts are cut');
  t.equal(formatBarLines(PROGRESS, 40)[3], 'requests done     35,000/100,000 (12 fa…', 'no bar at all when it would be tiny');
  t.equal(formatBarLines(PROGRESS, 40)[4], 'run_x · running · 00:42 · 3 batches: 1 …', 'the status line keeps its head');
});

t.test('not a terminal: a line at most every intervalMs, and a final one on stop', async (t) => {
  const out = sink(false);
  const display = createRunProgressDisplay({ stream: out.stream, intervalMs: 60_000 });
  display.update(PROGRESS);
  display.update({ ...PROGRESS, elapsedMs: 43_000 });
  display.update({ ...PROGRESS, elapsedMs: 44_000 });
  t.same(out.lines(), [formatProgressLine(PROGRESS)], 'one line for three updates');
  const final: RunProgress = { ...PROGRESS, phase: 'done', requestCounts: { total: 100_000, completed: 99_988, failed: 12 }, elapsedMs: 90_000 };
  display.stop(final);
  t.same(out.lines(), [formatProgressLine(PROGRESS), formatProgressLine(final)]);
  display.update(PROGRESS);
  display.stop(final);
  t.equal(out.lines().length, 2, 'nothing after stop');
  t.notMatch(out.text(), /\x1b/, 'no escape codes');
});

t.test('not a terminal: the last update of a quiet spell is written when the interval is up', async (t) => {
  const out = sink(false);
  const display = createRunProgressDisplay({ stream: out.stream, intervalMs: 50 });
  display.update(PROGRESS);
  display.update({ ...PROGRESS, elapsedMs: 43_000 });
  display.update({ ...PROGRESS, elapsedMs: 44_000 });
  t.equal(out.lines().length, 1);
  await waitFor(() => out.lines().length === 2);
  t.match(out.lines()[1], / · 00:44$/, 'the latest snapshot');
  display.stop();
  t.equal(out.lines().length, 3, 'stop writes the final line');
  t.match(out.lines()[2], / · 00:44$/, 'of the last update when no final one is given');
});

t.test('not a terminal: intervalMs 0 writes every update; stop before any update writes nothing', async (t) => {
  const out = sink();
  const display = createRunProgressDisplay({ stream: out.stream, intervalMs: 0 });
  for (let i = 0; i < 3; i++) display.update({ ...PROGRESS, elapsedMs: i * 1000 });
  t.equal(out.lines().length, 3);
  const quiet = sink(false);
  createRunProgressDisplay({ stream: quiet.stream }).stop();
  t.equal(quiet.text(), '');
});

t.test('a terminal: bars redrawn in place, erased on stop, then the final line', async (t) => {
  const out = sink(true, 100);
  const display = createRunProgressDisplay({ stream: out.stream });
  display.update(PROGRESS);
  await waitFor(() => out.plain().includes('requests done'));
  const drawn = out.plain();
  t.match(drawn, /requests sharded +░{24} {2}40,000\/\?/);
  t.match(drawn, /batches ended +█{16}░{8} {2}2\/3/);
  t.match(drawn, /run_x · running · 00:42 · 3 batches: 1 in_progress, 2 completed/);
  t.match(out.text(), '\x1b[?25l', 'the cursor hidden while drawing');
  display.update({ ...PROGRESS, requests: { sharded: 80_000, total: 80_000 } });
  await waitFor(() => out.plain().includes('80,000/80,000'));
  t.match(out.text().slice(drawn.length), /\x1b\[\d+A/, 'redrawn in place: the cursor moves back up');
  const final: RunProgress = { ...PROGRESS, phase: 'done', elapsedMs: 60_000 };
  display.stop(final);
  const tail = out.text().slice(out.text().lastIndexOf('\x1b[0J'));
  t.equal(tail, `\x1b[0J${formatProgressLine(final)}\n`, 'the bars erased, then one final line');
  t.match(out.text(), '\x1b[?25h', 'the cursor shown again');
  t.match(out.text(), '\x1b[?7h', 'line wrapping back on');
  display.stop();
  display.update(PROGRESS);
  t.equal(out.text().slice(out.text().lastIndexOf('\x1b[0J')), tail, 'a second stop, or an update after it, writes nothing');
});

t.test('a terminal stopped before it drew anything writes only the final line', async (t) => {
  const out = sink(true);
  const display = createRunProgressDisplay({ stream: out.stream });
  display.stop(PROGRESS);
  t.equal(out.text(), `${formatProgressLine(PROGRESS)}\n`);
});

t.test('isTTY overrides what the stream says', async (t) => {
  const forcedBars = sink();
  const bars = createRunProgressDisplay({ stream: forcedBars.stream, isTTY: true });
  bars.update(PROGRESS);
  await waitFor(() => forcedBars.plain().includes('requests done'));
  t.match(forcedBars.text(), /\x1b\[/, 'drawn with escape codes');
  bars.stop();
  const forcedLines = sink(true);
  const lines = createRunProgressDisplay({ stream: forcedLines.stream, isTTY: false });
  lines.update(PROGRESS);
  lines.stop();
  t.same(forcedLines.lines(), [formatProgressLine(PROGRESS), formatProgressLine(PROGRESS)]);
});

t.test('an ended stream is left alone', async (t) => {
  for (const isTTY of [false, true]) {
    const out = sink(isTTY);
    const display = createRunProgressDisplay({ stream: out.stream, intervalMs: 0 });
    display.update(PROGRESS);
    out.stream.end();
    display.update(PROGRESS);
    display.stop(PROGRESS);
    t.pass(`isTTY ${isTTY}: no write after end, no error`);
  }
});

t.test('bad options name themselves', async (t) => {
  const { stream } = sink();
  t.throws(() => createRunProgressDisplay({ stream, intervalMs: -1 }), { code: 'INVALID_OPTION', option: 'intervalMs' });
  t.throws(() => createRunProgressDisplay({ stream, intervalMs: 1.5 }), { code: 'INVALID_OPTION', option: 'intervalMs' });
  t.throws(() => createRunProgressDisplay({ stream, isTTY: 'yes' as never }), { code: 'INVALID_OPTION', option: 'isTTY' });
  t.throws(() => createRunProgressDisplay({ stream: undefined as never }), { code: 'INVALID_OPTION', option: 'stream' });
  t.throws(() => createRunProgressDisplay({ stream: {} as never }), { code: 'INVALID_OPTION', option: 'stream' });
});

t.test('no timer outlives stop: the process exits on its own', async (t) => {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'progress-exit.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  const code = await new Promise<number | null>((resolve) => {
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (exitCode) => {
      clearTimeout(guard);
      resolve(exitCode);
    });
  });
  t.equal(code, 0, 'exited by itself');
  t.same(JSON.parse(out), { tty: true, plain: 2 }, 'bars ended with the final line; the plain display wrote its first and final lines');
});
