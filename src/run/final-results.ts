/**
 * The answers that count, unit by unit, as units settle: the join's one
 * result source. A unit's result lines are final unless its requests went
 * again in a follow-up; then the lines of the requests the follow-up carries
 * are left out (the follow-up's own lines answer them). So every request has
 * exactly one result line across the run, whatever the order units settle
 * in — and the join can read them while later batches still run.
 */
import { join } from 'node:path';
import { AbortError, abortMessage } from '../errors.ts';
import { customIdOf, customIdText } from '../core/join/custom-id.ts';
import type { RunState, UnitState } from '../core/run-state.ts';
import { readLineChunks } from '../io/file-reader.ts';
import { fileLines, MAX_LINE_BYTES } from './heal.ts';

const CHUNK_BYTES = 64 * 1024;
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
    const filesOf = (unit: UnitState) => [unit.files?.output, unit.files?.error, unit.files?.failed].flatMap((path) => (path ? [join(dir, path)] : []));
    const idsIn = async (unit: UnitState) => {
      const ids = new Set<string>();
      for await (const bytes of fileLines(join(dir, unit.spec.path), signal)) {
        const id = customIdOf(bytes, true);
        if (id) ids.add(customIdText(id));
      }
      return ids;
    };
    for (let unit = await this.#next(signal); unit !== null; unit = await this.#next(signal)) {
      const files = filesOf(unit);
      if (files.length === 0 && unit.followUp === null) {
        // A follow-up that gave nothing final (cancelled before it went out, or ended with no file and no tries left):
        // the answers its parent had stand. One with a follow-up of its own gives nothing; that follow-up answers.
        const parent = unit.spec.parent === null ? undefined : state.units.get(unit.spec.parent);
        if (!parent) continue;
        const own = await idsIn(unit);
        for (const path of filesOf(parent)) yield* keptLines(path, own, true, signal);
        continue;
      }
      const followUp = unit.followUp === null ? undefined : state.units.get(unit.followUp);
      if (!followUp) {
        for (const path of files) yield* wholeFile(path, signal);
        continue;
      }
      // A resubmission of the same file (a token-limit failure) carries every request again.
      if (followUp.spec.fileId !== undefined && followUp.spec.fileId === unit.fileId) continue;
      const retried = await idsIn(followUp);
      for (const path of files) yield* keptLines(path, retried, false, signal);
    }
  }
}

/*
 * Both readers below hand out views into one reused buffer: the join is done
 * with a chunk (it copies what it keeps) before it asks for the next, and
 * buffers made per chunk would pile up faster than V8 collects them while
 * downloads run beside the join (measured: 170 MB more resident on 200,000
 * requests).
 */

/** A file's bytes as they are, ending with a line break. */
async function* wholeFile(path: string, signal: AbortSignal): AsyncGenerator<Buffer> {
  let last = 10;
  for await (const chunk of readLineChunks(path, { maxLineBytes: MAX_LINE_BYTES, chunkBytes: CHUNK_BYTES, signal })) {
    if (chunk.length > 0) last = chunk[chunk.length - 1];
    yield chunk;
  }
  if (last !== 10) yield NEWLINE;
}

/** The lines of a file whose custom_id is in `ids` (`inside`) or not in it, gathered into chunks. */
async function* keptLines(path: string, ids: ReadonlySet<string>, inside: boolean, signal: AbortSignal): AsyncGenerator<Buffer> {
  const out = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  let size = 0;
  for await (const bytes of fileLines(path, signal)) {
    const id = customIdOf(bytes, true);
    // A line without a readable custom_id goes out once: with the parent's other lines, not again here.
    if (id === null ? inside : ids.has(customIdText(id)) !== inside) continue;
    if (size + bytes.length + 1 > out.length && size > 0) {
      yield out.subarray(0, size);
      size = 0;
    }
    if (bytes.length + 1 > out.length) {
      // A line longer than the buffer goes on its own.
      yield Buffer.concat([bytes, NEWLINE]);
      continue;
    }
    bytes.copy(out, size);
    out[size + bytes.length] = 10;
    size += bytes.length + 1;
  }
  if (size > 0) yield out.subarray(0, size);
}
