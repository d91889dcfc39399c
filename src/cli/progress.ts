/**
 * A run's progress on stderr. On a terminal: cli-progress bars (requests
 * sharded, bytes uploaded, batches ended, requests done) and a status line,
 * redrawn at most a few times a second and erased by stop(). Elsewhere (a
 * log file, a CI job): one plain line at most every `intervalMs`, and a
 * final one on stop(). No timer outlives stop(), so the process can exit.
 */
import type { Writable } from 'node:stream';
import cliProgress from 'cli-progress';
import { wholeNumberOption } from '../core/options.ts';
import type { RunProgress } from '../core/run-progress.ts';
import { invalidOption } from '../errors.ts';
import { formatBarLines, formatProgressLine } from './progress-format.ts';

export const DEFAULT_PROGRESS_INTERVAL_MS = 5000;
/** Redraws of the bars per second at most. */
const BAR_FPS = 5;
const DEFAULT_COLUMNS = 80;

export interface RunProgressDisplayOptions {
  stream: NodeJS.WriteStream | Writable;
  /** Draw bars (true) or write plain lines (false); by default, whether `stream` is a terminal. */
  isTTY?: boolean;
  /** Plain lines only: the least time between two lines, in ms (default 5000; 0 writes every update). */
  intervalMs?: number;
}

export interface RunProgressDisplay {
  update(progress: RunProgress): void;
  /** Writes a line of log above the bars (or as a line of its own), without tearing them. */
  log(line: string): void;
  /** Ends the display: bars are erased; the final line (of `final`, else of the last update) is written. Later calls do nothing. */
  stop(final?: RunProgress): void;
}

export function createRunProgressDisplay(options: RunProgressDisplayOptions): RunProgressDisplay {
  const stream = options.stream as Writable & { isTTY?: boolean; columns?: number };
  if (stream === null || typeof stream !== 'object' || typeof stream.write !== 'function') throw invalidOption('stream', 'stream must be a writable stream');
  if (options.isTTY !== undefined && typeof options.isTTY !== 'boolean') throw invalidOption('isTTY', `isTTY must be true or false, got ${JSON.stringify(options.isTTY)}`);
  const intervalMs = wholeNumberOption(options.intervalMs, 'intervalMs', DEFAULT_PROGRESS_INTERVAL_MS, 0);
  const tty = options.isTTY ?? stream.isTTY === true;
  return tty ? new BarDisplay(stream) : new LineDisplay(stream, intervalMs);
}

type Output = Writable & { columns?: number };

/** Writes a line unless the stream has ended or broken: progress is never worth an error of its own. */
function writeLine(stream: Output, line: string): void {
  if (stream.writable) stream.write(`${line}\n`);
}

class LineDisplay implements RunProgressDisplay {
  private readonly stream: Output;
  private readonly intervalMs: number;
  private latest: RunProgress | null = null;
  /** Whether `latest` came after the last line written. */
  private unwritten = false;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(stream: Output, intervalMs: number) {
    this.stream = stream;
    this.intervalMs = intervalMs;
  }

  update(progress: RunProgress): void {
    if (this.stopped) return;
    this.latest = progress;
    this.unwritten = true;
    const wait = this.lastWriteAt + this.intervalMs - Date.now();
    if (wait <= 0) this.write();
    else if (this.timer === null) {
      // The last update of a quiet spell is written once the interval is up, not only with the next one.
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.unwritten) this.write();
      }, wait);
      // A display left running must not keep the process alive; stop() clears it in any case.
      this.timer.unref();
    }
  }

  log(line: string): void {
    writeLine(this.stream, line);
  }

  stop(final?: RunProgress): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const last = final ?? this.latest;
    if (last !== null) writeLine(this.stream, formatProgressLine(last));
  }

  private write(): void {
    writeLine(this.stream, formatProgressLine(this.latest as RunProgress));
    this.unwritten = false;
    this.lastWriteAt = Date.now();
  }
}

class BarDisplay implements RunProgressDisplay {
  private readonly stream: Output;
  private readonly bars: cliProgress.MultiBar;
  private lines: cliProgress.SingleBar[] = [];
  private latest: RunProgress | null = null;
  private stopped = false;

  constructor(stream: Output) {
    this.stream = stream;
    // cli-progress draws through this view of the stream, a terminal whatever `isTTY` the stream says.
    const terminal = {
      isTTY: true,
      get columns() {
        return stream.columns;
      },
      write: (chunk: string) => (stream.writable ? stream.write(chunk) : false),
    };
    this.bars = new cliProgress.MultiBar({
      stream: terminal as unknown as NodeJS.WritableStream,
      fps: BAR_FPS,
      // Every line is ours, drawn from the snapshot: cli-progress redraws, throttles and erases.
      format: (_options, _params, payload: { line: string }) => payload.line,
      clearOnComplete: true,
      hideCursor: true,
      gracefulExit: false,
    });
  }

  update(progress: RunProgress): void {
    if (this.stopped) return;
    this.latest = progress;
    const lines = formatBarLines(progress, (this.stream.columns ?? DEFAULT_COLUMNS) - 1);
    if (this.lines.length === 0) this.lines = lines.map((line) => this.bars.create(1, 0, { line }));
    else lines.forEach((line, i) => this.lines[i].update({ line }));
  }

  log(line: string): void {
    // Before the first bar, or after stop, there is nothing to draw around.
    if (this.stopped || this.lines.length === 0) writeLine(this.stream, line);
    else this.bars.log(`${line}\n`);
  }

  stop(final?: RunProgress): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.lines.length > 0) this.bars.stop();
    const last = final ?? this.latest;
    if (last !== null) writeLine(this.stream, formatProgressLine(last));
  }
}
