/**
 * The joiner's disk side: reading sources as lines, spilling result lines
 * into ordinal-range partition files, and loading those partitions back one
 * at a time (cutting any that grew too large for memory into smaller ones).
 */
import { createReadStream } from 'node:fs';
import { open, readFile, rm, stat, type FileHandle } from 'node:fs/promises';
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

function chunksOf(source: ByteSource, signal: AbortSignal | undefined): AsyncIterable<Buffer | Uint8Array | string> {
  if (typeof source === 'string') return createReadStream(source, { highWaterMark: READ_CHUNK_BYTES, signal });
  return source;
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
 * chunk (no copy); `onChunk` sees every raw chunk first (to spool it).
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
    for await (const raw of chunksOf(source, signal)) {
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

interface Pending {
  handle: FileHandle;
  path: string;
  chunks: Buffer[];
  bytes: number;
  written: number;
}

/**
 * Buffered writers for the partition files. The buffers share one budget:
 * past it every partition is flushed, so the memory they hold stays below
 * `bufferBudget` plus one source chunk, however many lines arrive.
 */
export class PartitionWriter {
  readonly paths: string[] = [];
  private readonly files: Pending[] = [];
  private buffered = 0;
  private readonly partitionFlushBytes: number;
  private readonly bufferBudget: number;

  private constructor(bufferBudget: number, count: number) {
    this.bufferBudget = bufferBudget;
    this.partitionFlushBytes = Math.max(64 * 1024, Math.min(1 << 20, Math.floor(bufferBudget / Math.max(1, count))));
  }

  static async create(dir: string, prefix: string, count: number, bufferBudget: number): Promise<PartitionWriter> {
    const writer = new PartitionWriter(bufferBudget, count);
    try {
      for (let k = 0; k < count; k++) {
        const path = join(dir, `${prefix}-${k}.bin`);
        writer.paths.push(path);
        writer.files.push({ handle: await open(path, 'w'), path, chunks: [], bytes: 0, written: 0 });
      }
    } catch (err) {
      await writer.close();
      throw err;
    }
    return writer;
  }

  /** Queues one record; call `drain()` after each batch of appends. */
  append(partition: number, header: RecordHeader, line: Buffer): void {
    const file = this.files[partition];
    const head = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
    writeRecordHeader(head, 0, header);
    file.chunks.push(head, line);
    const bytes = RECORD_HEADER_BYTES + line.length;
    file.bytes += bytes;
    this.buffered += bytes;
  }

  /** Writes out what the budget no longer allows to keep. */
  async drain(): Promise<void> {
    const all = this.buffered >= this.bufferBudget;
    const writes: Promise<void>[] = [];
    for (const file of this.files) {
      if (file.bytes > 0 && (all || file.bytes >= this.partitionFlushBytes)) writes.push(this.flush(file));
    }
    await Promise.all(writes);
  }

  /** Flushes and closes every file; the partition sizes in bytes. */
  async finish(): Promise<number[]> {
    await Promise.all(this.files.filter((file) => file.bytes > 0).map((file) => this.flush(file)));
    await this.close();
    return this.files.map((file) => file.written);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.files.map((file) => file.handle.close()));
  }

  private async flush(file: Pending): Promise<void> {
    const chunks = file.chunks;
    const bytes = file.bytes;
    file.chunks = [];
    file.bytes = 0;
    this.buffered -= bytes;
    // writev takes at most IOV_MAX (1024) buffers per call on Linux.
    for (let i = 0; i < chunks.length; i += 1024) await file.handle.writev(chunks.slice(i, i + 1024));
    file.written += bytes;
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

export interface PartitionLoadOptions {
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
    const buffer = await readFile(path, { signal: options.signal });
    await rm(path, { force: true });
    yield new LoadedPartition(range, buffer);
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
