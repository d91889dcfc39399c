/**
 * The joiner's disk side: reading sources as lines, spilling result lines
 * into ordinal-range partition files, and loading those partitions back one
 * at a time (cutting any that grew too large for memory into smaller ones).
 */
import { createReadStream } from 'node:fs';
import { open, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { AbortError, BatchlineError, JoinError, OverflowError, abortMessage, throwIfAborted } from '../errors.ts';
import { LineSplitter } from '../core/lines.ts';
import {
  RECORD_HEADER_BYTES,
  readRecordHeader,
  splitRange,
  writeRecordHeader,
  type OrdinalRange,
  type RecordHeader,
} from '../core/partition.ts';

/** Bytes of a source: a file path, a Readable or any async iterable of chunks. */
export type ByteSource = string | AsyncIterable<Buffer | Uint8Array | string>;

/** The lines of one source chunk, with their 1-based line numbers. */
export interface LineBatch {
  lines: Buffer[];
  numbers: number[];
}

const READ_CHUNK_BYTES = 1 << 20;

/**
 * Reads a file through one reused buffer, yielding views that end just after
 * a line break (the last one excepted), so no line is ever split between two
 * views. A view is valid only until the generator is resumed: reusing the
 * buffer instead of allocating a chunk per read keeps dead chunks from piling
 * up between garbage collections. A line longer than the buffer grows it, up
 * to just past maxLineBytes, where the line splitter refuses the line.
 */
async function* fileChunks(path: string, maxLineBytes: number, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  const handle = await open(path, 'r');
  try {
    let buffer = Buffer.allocUnsafeSlow(READ_CHUNK_BYTES);
    let held = 0;
    for (;;) {
      throwIfAborted(signal);
      if (held === buffer.length) {
        if (buffer.length > maxLineBytes + 2) {
          yield buffer.subarray(0, held);
          held = 0;
          continue;
        }
        const bigger = Buffer.allocUnsafeSlow(Math.min(buffer.length * 2, maxLineBytes + 3));
        buffer.copy(bigger, 0, 0, held);
        buffer = bigger;
      }
      const { bytesRead } = await handle.read(buffer, held, buffer.length - held, null);
      if (bytesRead === 0) {
        if (held > 0) yield buffer.subarray(0, held);
        return;
      }
      const end = held + bytesRead;
      const lastBreak = buffer.lastIndexOf(0x0a, end - 1);
      if (lastBreak === -1) {
        held = end;
        continue;
      }
      yield buffer.subarray(0, lastBreak + 1);
      buffer.copy(buffer, 0, lastBreak + 1, end);
      held = end - lastBreak - 1;
    }
  } finally {
    await handle.close();
  }
}

function chunksOf(
  source: ByteSource,
  maxLineBytes: number,
  signal: AbortSignal | undefined,
): AsyncIterable<Buffer | Uint8Array | string> {
  return typeof source === 'string' ? fileChunks(source, maxLineBytes, signal) : source;
}

function unreadable(err: unknown, source: ByteSource, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted && !(err instanceof BatchlineError)) return new AbortError(abortMessage(signal));
  const code = (err as NodeJS.ErrnoException)?.code;
  if (typeof source === 'string' && typeof (err as NodeJS.ErrnoException)?.syscall === 'string') {
    return new BatchlineError('INPUT_UNREADABLE', `cannot read ${source}${code ? ` (${code})` : ''}`, { cause: err });
  }
  return err;
}

/**
 * Yields a source's lines one chunk at a time. Lines are views into the
 * chunk (no copy), valid until the next batch is asked for; `onChunk` sees
 * every raw chunk first (to spool it).
 */
export async function* lineBatches(
  source: ByteSource,
  maxLineBytes: number,
  signal: AbortSignal | undefined,
  onChunk?: (chunk: Buffer) => Promise<void>,
): AsyncGenerator<LineBatch> {
  let batch: LineBatch = { lines: [], numbers: [] };
  const splitter = new LineSplitter(maxLineBytes, (bytes, line) => {
    batch.lines.push(bytes);
    batch.numbers.push(line);
  });
  try {
    for await (const raw of chunksOf(source, maxLineBytes, signal)) {
      throwIfAborted(signal);
      const chunk = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
      if (onChunk) await onChunk(chunk);
      splitter.push(chunk);
      if (batch.lines.length > 0) {
        yield batch;
        batch = { lines: [], numbers: [] };
      }
    }
  } catch (err) {
    throw unreadable(err, source, signal);
  }
  splitter.end();
  if (batch.lines.length > 0) yield batch;
}

interface PartitionFile {
  handle: FileHandle;
  /** The buffer being filled, allocated on first use. */
  current: Buffer | undefined;
  used: number;
  /** Filled buffers (or slices) waiting to be written, in order. */
  full: Buffer[];
  written: number;
}

/**
 * Buffered writers for the partition files. Each line is copied into its
 * partition's buffer, so the source chunk it came from is free at once; a
 * buffer that fills is written at the next `drain()`. Memory: one buffer of
 * `bufferBudget / count` bytes (16 KiB–1 MiB) per partition, plus what one
 * source chunk fills before the drain.
 */
export class PartitionWriter {
  readonly paths: string[] = [];
  private readonly files: PartitionFile[] = [];
  private readonly bufferBytes: number;
  /** Written buffers kept for reuse, at most half the budget's worth. */
  private readonly spare: Buffer[] = [];
  private readonly maxSpare: number;
  private fullCount = 0;

  private constructor(bufferBudget: number, count: number) {
    this.bufferBytes = Math.max(16 * 1024, Math.min(1 << 20, Math.floor(bufferBudget / Math.max(1, count))));
    this.maxSpare = Math.max(1, Math.floor(bufferBudget / 2 / this.bufferBytes));
  }

  static async create(dir: string, prefix: string, count: number, bufferBudget: number): Promise<PartitionWriter> {
    const writer = new PartitionWriter(bufferBudget, count);
    try {
      for (let k = 0; k < count; k++) {
        const path = join(dir, `${prefix}-${k}.bin`);
        writer.paths.push(path);
        writer.files.push({ handle: await open(path, 'w'), current: undefined, used: 0, full: [], written: 0 });
      }
    } catch (err) {
      await writer.close();
      throw err;
    }
    return writer;
  }

  /** Copies one record in; call `drain()` after each batch of appends. */
  append(partition: number, header: RecordHeader, line: Buffer): void {
    const file = this.files[partition];
    const bytes = RECORD_HEADER_BYTES + line.length;
    if (file.current && file.used + bytes > file.current.length) this.retire(file);
    if (bytes > this.bufferBytes) {
      // A line larger than a buffer travels alone.
      const own = Buffer.allocUnsafe(bytes);
      writeRecordHeader(own, 0, header);
      line.copy(own, RECORD_HEADER_BYTES);
      file.full.push(own);
      this.fullCount++;
      return;
    }
    if (!file.current) {
      file.current = this.spare.pop() ?? Buffer.allocUnsafeSlow(this.bufferBytes);
      file.used = 0;
    }
    writeRecordHeader(file.current, file.used, header);
    line.copy(file.current, file.used + RECORD_HEADER_BYTES);
    file.used += bytes;
  }

  /** Writes the buffers that filled up. */
  async drain(): Promise<void> {
    if (this.fullCount === 0) return;
    await Promise.all(this.files.filter((file) => file.full.length > 0).map((file) => this.writeFull(file)));
  }

  /** Writes everything and closes every file; the partition sizes in bytes. */
  async finish(): Promise<number[]> {
    for (const file of this.files) if (file.current && file.used > 0) this.retire(file);
    await this.drain();
    await this.close();
    return this.files.map((file) => file.written);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.files.map((file) => file.handle.close()));
  }

  private retire(file: PartitionFile): void {
    file.full.push(file.current!.subarray(0, file.used));
    this.fullCount++;
    file.current = undefined;
    file.used = 0;
  }

  private async writeFull(file: PartitionFile): Promise<void> {
    const buffers = file.full;
    file.full = [];
    this.fullCount -= buffers.length;
    await file.handle.writev(buffers);
    for (const buffer of buffers) {
      file.written += buffer.length;
      if (buffer.buffer.byteLength === this.bufferBytes && this.spare.length < this.maxSpare) {
        this.spare.push(Buffer.from(buffer.buffer, buffer.byteOffset, this.bufferBytes));
      }
    }
  }
}

/** One partition in memory: its result records, chained per ordinal. */
export class LoadedPartition {
  readonly range: OrdinalRange;
  readonly buffer: Buffer;
  /** First record offset per ordinal (−1: none). */
  private readonly head: Int32Array;
  /** Per record (by header offset): the offset of the next record for the same ordinal. */
  private readonly next = new Map<number, number>();

  constructor(range: OrdinalRange, buffer: Buffer) {
    this.range = range;
    this.buffer = buffer;
    this.head = new Int32Array(range.end - range.first).fill(-1);
    const tail = new Int32Array(range.end - range.first).fill(-1);
    for (let at = 0; at < buffer.length; ) {
      const header = readRecordHeader(buffer, at);
      const slot = header.ordinal - range.first;
      if (tail[slot] === -1) this.head[slot] = at;
      else this.next.set(tail[slot], at);
      tail[slot] = at;
      at += RECORD_HEADER_BYTES + header.length;
    }
  }

  /** The spilled results for one ordinal, in the order they were read. */
  recordsFor(ordinal: number): Array<{ header: RecordHeader; line: Buffer }> {
    const out: Array<{ header: RecordHeader; line: Buffer }> = [];
    let at = this.head[ordinal - this.range.first];
    while (at !== -1) {
      const header = readRecordHeader(this.buffer, at);
      const start = at + RECORD_HEADER_BYTES;
      out.push({ header, line: this.buffer.subarray(start, start + header.length) });
      at = this.next.get(at) ?? -1;
    }
    return out;
  }
}

/** Streams the records of a partition file without loading it whole. */
async function* readRecords(path: string, signal: AbortSignal | undefined): AsyncGenerator<[RecordHeader, Buffer]> {
  let carry: Buffer = Buffer.alloc(0);
  for await (const raw of createReadStream(path, { highWaterMark: READ_CHUNK_BYTES, signal })) {
    const data = carry.length > 0 ? Buffer.concat([carry, raw as Buffer]) : (raw as Buffer);
    let at = 0;
    while (data.length - at >= RECORD_HEADER_BYTES) {
      const header = readRecordHeader(data, at);
      const end = at + RECORD_HEADER_BYTES + header.length;
      if (end > data.length) break;
      yield [header, data.subarray(at + RECORD_HEADER_BYTES, end)];
      at = end;
    }
    carry = data.subarray(at);
  }
  if (carry.length > 0) throw new JoinError('SPILL_CORRUPT', `the temp file ${path} ends inside a record`);
}

/**
 * Reads a whole partition file into the shared buffer (grown when needed):
 * one partition is in memory at a time, so one buffer serves them all.
 */
async function readInto(path: string, bytes: number, reuse: { buffer: Buffer }): Promise<Buffer> {
  // Rounded up to 1 MiB so that partitions of similar size share one allocation.
  if (reuse.buffer.length < bytes) reuse.buffer = Buffer.allocUnsafeSlow(Math.ceil(bytes / 2 ** 20) * 2 ** 20);
  const handle = await open(path, 'r');
  try {
    let at = 0;
    while (at < bytes) {
      const { bytesRead } = await handle.read(reuse.buffer, at, bytes - at, at);
      if (bytesRead === 0) throw new JoinError('SPILL_CORRUPT', `the temp file ${path} is shorter than it was`);
      at += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return reuse.buffer.subarray(0, bytes);
}

export interface PartitionLoadOptions {
  /** The buffer partitions are read into; a partition is valid until the next one is loaded. */
  reuse: { buffer: Buffer };
  dir: string;
  maxPartitionBytes: number;
  /** A single ordinal's results may exceed maxPartitionBytes up to this many bytes. */
  maxSingleOrdinalBytes: number;
  signal: AbortSignal | undefined;
  onSplit?: (range: OrdinalRange, parts: number) => void;
}

let splitSerial = 0;

/**
 * Loads a partition file, or, when it is larger than maxPartitionBytes, cuts
 * it into sub-range files first and loads those in order. Each file is
 * deleted once loaded, so disk use falls as the join proceeds.
 */
export async function* loadInOrder(
  path: string,
  range: OrdinalRange,
  options: PartitionLoadOptions,
): AsyncGenerator<LoadedPartition> {
  throwIfAborted(options.signal);
  const bytes = (await stat(path)).size;
  const fits = bytes <= options.maxPartitionBytes;
  if (fits || range.end - range.first <= 1) {
    if (!fits && bytes > options.maxSingleOrdinalBytes) {
      throw new OverflowError(
        'JOIN_PARTITION_OVERFLOW',
        `the results for input request ${range.first + 1} hold ${bytes} bytes, over the ${options.maxSingleOrdinalBytes}-byte cap`,
      );
    }
    yield new LoadedPartition(range, await readInto(path, bytes, options.reuse));
    await rm(path, { force: true });
    return;
  }
  const parts = splitRange(range, bytes, options.maxPartitionBytes, 64);
  options.onSplit?.(range, parts.length);
  const writer = await PartitionWriter.create(options.dir, `split-${splitSerial++}`, parts.length, 4 << 20);
  const span = parts[0].end - parts[0].first;
  try {
    for await (const [header, line] of readRecords(path, options.signal)) {
      writer.append(Math.floor((header.ordinal - range.first) / span), header, line);
      await writer.drain();
    }
    await writer.finish();
  } catch (err) {
    await writer.close();
    throw err;
  }
  await rm(path, { force: true });
  for (let i = 0; i < parts.length; i++) yield* loadInOrder(writer.paths[i], parts[i], options);
}
