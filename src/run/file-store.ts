/**
 * The run store on disk, in the state directory:
 * - `run.json`, the header, written once, atomically (temp, fsync, rename);
 * - `journal.jsonl`, one step a line, appended and fsynced before `record`
 *   resolves. Steps recorded together while a sync is under way share the
 *   next write and sync (a group commit), so many shards recording at once
 *   cost one sync, not one each.
 * A crash can cut the last line short (it was never acknowledged, so its side
 * effect never began): loading drops it and truncates the file back to the
 * last whole line. A damaged line anywhere else is RUN_STATE_CORRUPT.
 *
 * Why a journal and not one manifest rewritten per step: a rewrite costs the
 * whole manifest every step, O(steps²) over a run of thousands of shards; an
 * append costs its own line.
 */
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { IoError } from '../errors.ts';
import { readJsonRecord, writeJsonAtomic } from '../io/atomic-write.ts';
import { writeAll } from '../io/write-all.ts';
import { systemCode, systemReason } from '../io/system-error.ts';
import type { RunHeader, RunStep } from '../core/run-state.ts';
import type { RunStore } from './store.ts';

export const HEADER_FILE = 'run.json';
export const JOURNAL_FILE = 'journal.jsonl';

/** RUN_STATE_WRITE_FAILED for a file or directory of the state dir that cannot be written, made or removed. */
export function stateWriteFailed(path: string, err: unknown): IoError {
  return new IoError('RUN_STATE_WRITE_FAILED', `cannot write the run state ${path}: ${systemReason(err)}`, { path, syscallCode: systemCode(err), cause: err });
}

/** Runs a file system step on the state dir, its failure coded. */
export function stateWrite<T>(path: string, step: Promise<T>): Promise<T> {
  return step.catch((err: unknown) => Promise.reject(stateWriteFailed(path, err)));
}

function isHeader(value: unknown): boolean {
  const header = value as Partial<RunHeader> | null;
  return typeof header === 'object' && header !== null && header.version === 1 && typeof header.runId === 'string' && typeof header.fingerprint === 'string';
}

/** Reads the journal's steps; `validBytes` is where its last whole line ends. */
export function parseJournal(text: string, path: string): { steps: RunStep[]; validBytes: number } {
  const steps: RunStep[] = [];
  let start = 0;
  let validBytes = 0;
  let lineNo = 0;
  for (;;) {
    const end = text.indexOf('\n', start);
    if (end === -1) break;
    lineNo++;
    const line = text.slice(start, end);
    let step: unknown;
    try {
      step = JSON.parse(line);
    } catch (err) {
      throw new IoError('RUN_STATE_CORRUPT', `the run journal ${path} has a damaged line ${lineNo}`, { path, line: lineNo, cause: err });
    }
    if (step === null || typeof step !== 'object' || typeof (step as { kind?: unknown }).kind !== 'string') {
      throw new IoError('RUN_STATE_CORRUPT', `the run journal ${path} line ${lineNo} is not a step`, { path, line: lineNo });
    }
    steps.push(step as RunStep);
    start = end + 1;
    validBytes += Buffer.byteLength(line, 'utf8') + 1;
  }
  return { steps, validBytes };
}

export class FileRunStore implements RunStore {
  readonly dir: string;
  readonly #headerPath: string;
  readonly #journalPath: string;
  #handle: FileHandle | undefined;
  #queued: Array<{ line: string; resolve: () => void; reject: (err: unknown) => void }> = [];
  #writing: Promise<void> | undefined;
  #failure: unknown;

  readonly #readOnly: boolean;

  /** `readOnly`: a reader beside the live run (`batchline status --state-dir`): it never truncates a torn line, which may be an append under way. */
  constructor(dir: string, options: { readOnly?: boolean } = {}) {
    this.dir = dir;
    this.#readOnly = options.readOnly ?? false;
    this.#headerPath = join(dir, HEADER_FILE);
    this.#journalPath = join(dir, JOURNAL_FILE);
  }

  async load(): Promise<{ header: RunHeader | null; steps: RunStep[] }> {
    const exists = await stat(this.#headerPath).then(
      () => true,
      (err: unknown) => {
        if (systemCode(err) === 'ENOENT') return false;
        throw new IoError('RUN_STATE_CORRUPT', `cannot read ${this.#headerPath}: ${systemReason(err)}`, { path: this.#headerPath, syscallCode: systemCode(err) });
      },
    );
    if (!exists) return { header: null, steps: [] };
    const header = await readJsonRecord<RunHeader>(this.#headerPath, 'RUN_STATE_CORRUPT', isHeader);
    return { header, steps: await this.listSteps() };
  }

  async begin(header: RunHeader): Promise<void> {
    try {
      await writeJsonAtomic(this.#headerPath, header);
    } catch (err) {
      throw stateWriteFailed(this.#headerPath, err);
    }
  }

  async listSteps(): Promise<RunStep[]> {
    let text: string;
    try {
      text = await readFile(this.#journalPath, 'utf8');
    } catch (err) {
      if (systemCode(err) === 'ENOENT') return [];
      throw new IoError('RUN_STATE_CORRUPT', `cannot read ${this.#journalPath}: ${systemReason(err)}`, { path: this.#journalPath, syscallCode: systemCode(err) });
    }
    const { steps, validBytes } = parseJournal(text, this.#journalPath);
    // A torn last line (a crash mid-append) is cut off, so the next append starts on a line of its own.
    if (validBytes < Buffer.byteLength(text, 'utf8') && this.#handle === undefined && !this.#readOnly) {
      const handle = await open(this.#journalPath, 'r+').catch((err: unknown) => Promise.reject(stateWriteFailed(this.#journalPath, err)));
      try {
        await handle.truncate(validBytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    return steps;
  }

  record(step: RunStep): Promise<void> {
    if (this.#readOnly) return Promise.reject(new Error('a read-only run store records nothing'));
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise<void>((resolve, reject) => {
      this.#queued.push({ line: `${JSON.stringify(step)}\n`, resolve, reject });
      this.#writing ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queued.length > 0) {
        const group = this.#queued;
        this.#queued = [];
        try {
          this.#handle ??= await open(this.#journalPath, 'a');
          // Every byte, or a failure: a short write acknowledged as durable would lose the step on reload.
          await writeAll(this.#handle, [Buffer.from(group.map((entry) => entry.line).join(''), 'utf8')]);
          await this.#handle.sync();
        } catch (err) {
          // Whatever was written after a failure cannot be trusted to be whole: no step is taken after it.
          this.#failure = stateWriteFailed(this.#journalPath, err);
          for (const entry of [...group, ...this.#queued]) entry.reject(this.#failure);
          this.#queued = [];
          return;
        }
        for (const entry of group) entry.resolve();
      }
    } finally {
      this.#writing = undefined;
    }
  }

  async close(): Promise<void> {
    while (this.#writing) await this.#writing;
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }
}
