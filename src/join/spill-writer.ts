/**
 * Writing the join's partition files: result lines copied into one buffer
 * per partition and written out as the buffers fill.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAll } from '../io/write-all.ts';
import { RECORD_HEADER_BYTES, writeRecordHeader, type RecordHeader } from '../core/join/partition.ts';

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
    await writeAll(file.handle, buffers);
    for (const buffer of buffers) {
      file.written += buffer.length;
      if (buffer.buffer.byteLength === this.bufferBytes && this.spare.length < this.maxSpare) {
        this.spare.push(Buffer.from(buffer.buffer, buffer.byteOffset, this.bufferBytes));
      }
    }
  }
}
