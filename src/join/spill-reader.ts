/**
 * Loading the join's partitions back one at a time, in ordinal order, and
 * cutting any that grew too large for memory into smaller ones first.
 */
import { createReadStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { IoError, OverflowError, throwIfAborted } from '../errors.ts';
import { RECORD_HEADER_BYTES, readRecordHeader, splitRange, type OrdinalRange, type RecordHeader } from '../core/join/partition.ts';
import { PartitionWriter } from './spill-writer.ts';

const READ_CHUNK_BYTES = 1 << 20;

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
  if (carry.length > 0) throw new IoError('SPILL_CORRUPT', `the temp file ${path} ends inside a record`, { path });
}

export interface PartitionReaderOptions {
  /** The run's temp directory, where split files go. */
  dir: string;
  maxPartitionBytes: number;
  /** A single ordinal's results may exceed maxPartitionBytes up to this many bytes. */
  maxSingleOrdinalBytes: number;
  signal: AbortSignal | undefined;
  onSplit?: (range: OrdinalRange, parts: number) => void;
}

/**
 * Loads one join's partition files in ordinal order. A reader belongs to one
 * run: the buffer it reads into and the numbering of its split files are that
 * run's own.
 */
export class PartitionReader {
  private readonly options: PartitionReaderOptions;
  /** One partition is in memory at a time, so one buffer serves them all; a partition is valid until the next one is loaded. */
  private buffer = Buffer.alloc(0);
  /** Names split files uniquely within the run's directory. */
  private splits = 0;

  constructor(options: PartitionReaderOptions) {
    this.options = options;
  }

  /**
   * Loads a partition file, or, when it is larger than maxPartitionBytes,
   * cuts it into sub-range files first and loads those in order. Each file is
   * deleted once loaded, so disk use falls as the join proceeds.
   */
  async *load(path: string, range: OrdinalRange): AsyncGenerator<LoadedPartition> {
    const options = this.options;
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
      yield new LoadedPartition(range, await this.readWhole(path, bytes));
      await rm(path, { force: true });
      return;
    }
    const parts = splitRange(range, bytes, options.maxPartitionBytes, 64);
    options.onSplit?.(range, parts.length);
    const writer = await PartitionWriter.create(options.dir, `split-${this.splits++}`, parts.length, 4 << 20);
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
    for (let i = 0; i < parts.length; i++) yield* this.load(writer.paths[i], parts[i]);
  }

  /** Reads a whole partition file into the reader's buffer, grown when needed. */
  private async readWhole(path: string, bytes: number): Promise<Buffer> {
    // Rounded up to 1 MiB so that partitions of similar size share one allocation.
    if (this.buffer.length < bytes) this.buffer = Buffer.allocUnsafeSlow(Math.ceil(bytes / 2 ** 20) * 2 ** 20);
    const handle = await open(path, 'r');
    try {
      let at = 0;
      while (at < bytes) {
        const { bytesRead } = await handle.read(this.buffer, at, bytes - at, at);
        if (bytesRead === 0) throw new IoError('SPILL_CORRUPT', `the temp file ${path} is shorter than it was`, { path });
        at += bytesRead;
      }
    } finally {
      await handle.close();
    }
    return this.buffer.subarray(0, bytes);
  }
}
