/**
 * The answers that count, unit by unit, as units settle: the join's one
 * result source. A unit's result lines are final unless its requests went
 * again in a follow-up; then the lines of the requests the follow-up carries
 * are left out (the follow-up's own lines answer them). So every request has
 * exactly one result line across the run, whatever the order units settle
 * in — and the join can read them while later batches still run.
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { AbortError, abortMessage } from '../errors.ts';
import { customIdOf, customIdText } from '../core/join/custom-id.ts';
import type { RunState, UnitState } from '../core/run-state.ts';
import { fileLines } from './heal.ts';

const CHUNK_BYTES = 256 * 1024;
const NEWLINE = Buffer.from('\n');

export class SettledUnits {
  readonly #queue: UnitState[] = [];
  #closed = false;
  #wake: (() => void) | undefined;

  push(unit: UnitState): void {
    this.#queue.push(unit);
    this.#wake?.();
  }

  /** No unit will settle any more: the lines end once the queue is read. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async #next(signal: AbortSignal): Promise<UnitState | null> {
    while (this.#queue.length === 0) {
      if (this.#closed) return null;
      if (signal.aborted) throw new AbortError(abortMessage(signal));
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#wake = undefined;
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.#wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
    return this.#queue.shift() as UnitState;
  }

  /** The final result lines of every unit pushed, as chunks of whole lines, until close(). */
  async *lines(dir: string, state: RunState, signal: AbortSignal): AsyncGenerator<Buffer> {
    for (let unit = await this.#next(signal); unit !== null; unit = await this.#next(signal)) {
      const files = [unit.files?.output, unit.files?.error, unit.files?.failed].flatMap((path) => (path ? [join(dir, path)] : []));
      if (files.length === 0) continue;
      const followUp = unit.followUp === null ? undefined : state.units.get(unit.followUp);
      if (!followUp) {
        for (const path of files) yield* wholeFile(path, signal);
        continue;
      }
      // A resubmission of the same file (a token-limit failure) carries every request again.
      if (followUp.spec.fileId !== undefined && followUp.spec.fileId === unit.fileId) continue;
      const retried = new Set<string>();
      for await (const bytes of fileLines(join(dir, followUp.spec.path), signal)) {
        const id = customIdOf(bytes, true);
        if (id) retried.add(customIdText(id));
      }
      for (const path of files) yield* keptLines(path, retried, signal);
    }
  }
}

/** A file's bytes as they are, ending with a line break. */
async function* wholeFile(path: string, signal: AbortSignal): AsyncGenerator<Buffer> {
  let last = 10;
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK_BYTES, signal })) {
    const bytes = chunk as Buffer;
    if (bytes.length > 0) last = bytes[bytes.length - 1];
    yield bytes;
  }
  if (last !== 10) yield NEWLINE;
}

/** The lines of a file whose custom_id is not in `left`, gathered into chunks. */
async function* keptLines(path: string, left: ReadonlySet<string>, signal: AbortSignal): AsyncGenerator<Buffer> {
  let pieces: Buffer[] = [];
  let size = 0;
  for await (const bytes of fileLines(path, signal)) {
    const id = customIdOf(bytes, true);
    if (id && left.has(customIdText(id))) continue;
    // fileLines' views are reused: each kept line is copied with its line break.
    const line = Buffer.allocUnsafe(bytes.length + 1);
    bytes.copy(line);
    line[bytes.length] = 10;
    pieces.push(line);
    size += line.length;
    if (size >= CHUNK_BYTES) {
      yield Buffer.concat(pieces, size);
      pieces = [];
      size = 0;
    }
  }
  if (size > 0) yield Buffer.concat(pieces, size);
}
