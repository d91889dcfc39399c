/**
 * How the joiner lays result lines out on disk: which partition holds which
 * input ordinals, and the framing of one spilled result line. Pure: no I/O.
 *
 * A spilled record is a 16-byte header — ordinal, source index, source line,
 * byte length, all uint32 little-endian — followed by the raw result line.
 * Partition k holds the results of input ordinals [k·P, (k+1)·P), so the
 * partitions, read in order, walk the input in order.
 */

export const RECORD_HEADER_BYTES = 16;

export interface RecordHeader {
  ordinal: number;
  source: number;
  line: number;
  length: number;
}

export function writeRecordHeader(target: Buffer, at: number, header: RecordHeader): void {
  target.writeUInt32LE(header.ordinal, at);
  target.writeUInt32LE(header.source, at + 4);
  target.writeUInt32LE(header.line, at + 8);
  target.writeUInt32LE(header.length, at + 12);
}

export function readRecordHeader(source: Buffer, at: number): RecordHeader {
  return {
    ordinal: source.readUInt32LE(at),
    source: source.readUInt32LE(at + 4),
    line: source.readUInt32LE(at + 8),
    length: source.readUInt32LE(at + 12),
  };
}

/** A contiguous range of input ordinals, [first, end). */
export interface OrdinalRange {
  first: number;
  end: number;
}

export interface PartitionPlan {
  /** Ordinals per partition. */
  span: number;
  count: number;
}

/**
 * Splits `requests` ordinals into partitions of at least `partitionRequests`
 * each and at most `maxPartitions` in number (each open partition costs a
 * file handle and a write buffer).
 */
export function planPartitions(requests: number, partitionRequests: number, maxPartitions: number): PartitionPlan {
  if (requests === 0) return { span: 1, count: 0 };
  const span = Math.max(partitionRequests, Math.ceil(requests / maxPartitions));
  return { span, count: Math.ceil(requests / span) };
}

/**
 * Cuts a range that spilled more bytes than fit in memory into sub-ranges
 * that should each fit, assuming results spread evenly over the range (a
 * sub-range that still does not fit is cut again).
 */
export function splitRange(range: OrdinalRange, bytes: number, maxBytes: number, maxParts: number): OrdinalRange[] {
  const length = range.end - range.first;
  const parts = Math.max(2, Math.min(maxParts, length, Math.ceil((bytes * 2) / maxBytes)));
  const step = Math.ceil(length / parts);
  const out: OrdinalRange[] = [];
  for (let first = range.first; first < range.end; first += step) out.push({ first, end: Math.min(range.end, first + step) });
  return out;
}
