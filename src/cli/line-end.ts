/**
 * Where line N of an input ends, in bytes: what a run that stopped at line N
 * read of its input. The parser reads ahead by whole chunks, so its own byte
 * count runs past the line it stopped at; these find the line's end instead,
 * only once a run has stopped, at no cost to a run that goes through.
 */
import { open } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';

const NEWLINE = 0x0a;

/** The offset just past the `\n` that ends line `line` of `chunk`, counting `seen` newlines before it; else -1 and the count. */
function findLineEnd(chunk: Buffer, line: number, seen: number): { end: number; seen: number } {
  for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, at + 1)) {
    if (++seen === line) return { end: at + 1, seen };
  }
  return { end: -1, seen };
}

/** Bytes of the file at `path` up to and including line `line` (all of it when it has fewer lines). */
export async function fileLineEnd(path: string, line: number): Promise<number> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(64 * 1024);
    let offset = 0;
    let seen = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      if (bytesRead === 0) return offset;
      const found = findLineEnd(buffer.subarray(0, bytesRead), line, seen);
      if (found.end !== -1) return offset + found.end;
      seen = found.seen;
      offset += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/** Chunks of stdin kept to find a line's end in: the parser and the stages behind it hold far less than this. */
const KEPT_BYTES = 1024 * 1024;

/**
 * Passes stdin's bytes through unchanged, keeping the last chunks (stdin's
 * chunks are its own, never reused) and, for older ones, where each ended
 * and how many lines it finished, so `lineEnd(n)` can answer once the run
 * has stopped: exactly within the kept chunks, to the end of its chunk
 * before them.
 */
export class StdinLineEnds extends Transform {
  private bytes = 0;
  private readonly kept: Array<{ start: number; chunk: Buffer }> = [];
  private keptBytes = 0;
  /** For each chunk no longer kept, in order: the offset after it and the lines ended by then. */
  private readonly droppedEnds: number[] = [];
  private readonly droppedLineCounts: number[] = [];
  private droppedLines = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.kept.push({ start: this.bytes, chunk });
    this.bytes += chunk.length;
    this.keptBytes += chunk.length;
    while (this.keptBytes > KEPT_BYTES && this.kept.length > 1) {
      const old = this.kept.shift()!;
      this.keptBytes -= old.chunk.length;
      this.droppedLines = findLineEnd(old.chunk, Infinity, this.droppedLines).seen;
      this.droppedEnds.push(old.start + old.chunk.length);
      this.droppedLineCounts.push(this.droppedLines);
    }
    callback(null, chunk);
  }

  /** Bytes read up to and including line `line` (all read so far when it has not ended yet). */
  lineEnd(line: number): number {
    if (line <= this.droppedLines) {
      // The first dropped chunk by whose end `line` had ended.
      let low = 0;
      let high = this.droppedLineCounts.length - 1;
      while (low < high) {
        const mid = (low + high) >>> 1;
        if (this.droppedLineCounts[mid] >= line) high = mid;
        else low = mid + 1;
      }
      return this.droppedEnds[low];
    }
    let seen = this.droppedLines;
    for (const { start, chunk } of this.kept) {
      const found = findLineEnd(chunk, line, seen);
      if (found.end !== -1) return start + found.end;
      seen = found.seen;
    }
    return this.bytes;
  }
}
