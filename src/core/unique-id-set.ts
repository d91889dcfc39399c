import { OverflowError, ValidationError } from '../errors.ts';
import { hashBytes32 } from './hash.ts';

export const DEFAULT_MAX_CUSTOM_IDS = 20_000_000;
export const DEFAULT_MAX_CUSTOM_ID_BYTES = 1024 * 1024 * 1024;

export interface UniqueIdSetOptions {
  /** Refuse the id after this many (coded CUSTOM_ID_INDEX_FULL). */
  maxIds?: number;
  /** Refuse the id once the stored UTF-8 bytes of all ids would pass this. */
  maxIdBytes?: number;
}

const EMPTY = 0;
// With the u flag a surrogate pair is one code point, so this matches only an unpaired surrogate.
const LONE_SURROGATE = /\p{Cs}/u;
const MAX_LOAD = 0.75;

/**
 * An exact set of custom_ids that stays compact at millions of entries.
 *
 * A `Set<string>` costs roughly 50–100 bytes an id and puts millions of small
 * strings on the garbage-collected heap. Here every id is stored once as UTF-8
 * in one growing byte arena, and an open-addressing table holds a 32-bit hash
 * fingerprint plus the entry number. A fingerprint match is always confirmed
 * by comparing the stored bytes, so a duplicate is never missed and two
 * different ids are never taken for one another.
 *
 * Cost per id, measured by `memoryBytes`: its UTF-8 length (the arena grows
 * by doubling, so up to twice that while it has headroom) + 8 bytes (arena
 * offset and first line, also doubled on growth) + 8 bytes per table slot at
 * a load of 0.375–0.75 (≈ 11–21 bytes). The headroom is reserved, not
 * written, so most of it never becomes resident; each array it grew out of is
 * freed at once rather than left for the GC. A 20-byte id costs ≈ 40–75 bytes;
 * 1,000,000 such ids ≈ 40–75 MB, off the garbage-collected heap. Past the
 * caps the index throws CUSTOM_ID_INDEX_FULL rather than growing further.
 */
export class UniqueIdSet {
  private readonly maxIds: number;
  private readonly maxIdBytes: number;
  private fingerprints: Uint32Array;
  private slots: Uint32Array;
  private mask: number;
  private offsets: Uint32Array;
  private lines: Uint32Array;
  private arena: Buffer;
  private arenaBytes = 0;
  private count = 0;
  private scratch = Buffer.allocUnsafe(256);

  constructor(options: UniqueIdSetOptions = {}) {
    this.maxIds = options.maxIds ?? DEFAULT_MAX_CUSTOM_IDS;
    this.maxIdBytes = Math.min(options.maxIdBytes ?? DEFAULT_MAX_CUSTOM_ID_BYTES, 0xffff_ffff);
    this.fingerprints = new Uint32Array(1024);
    this.slots = new Uint32Array(1024);
    this.mask = 1023;
    this.offsets = new Uint32Array(513);
    this.lines = new Uint32Array(512);
    // Not from Node's shared pool: the set releases its old arena when it grows (see releaseNow).
    this.arena = Buffer.allocUnsafeSlow(16 * 1024);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by the index's arrays and arena (what it costs in memory). */
  get memoryBytes(): number {
    return (
      this.fingerprints.byteLength + this.slots.byteLength + this.offsets.byteLength + this.lines.byteLength + this.arena.length
    );
  }

  /**
   * Records `id`, first seen on `line`. Throws DUPLICATE_CUSTOM_ID (naming
   * both lines) when it was seen before, CUSTOM_ID_INDEX_FULL past the caps.
   */
  add(id: string, line: number): void {
    const length = this.encode(id);
    const key = this.scratch;
    const hash = hashBytes32(key, 0, length);
    let slot = hash & this.mask;
    for (;;) {
      const entry = this.slots[slot];
      if (entry === EMPTY) break;
      if (this.fingerprints[slot] === hash) {
        const start = this.offsets[entry - 1];
        const end = this.offsets[entry];
        if (end - start === length && key.compare(this.arena, start, end, 0, length) === 0) {
          throw new ValidationError(
            'DUPLICATE_CUSTOM_ID',
            `custom_id ${JSON.stringify(id)} on line ${line} was already used on line ${this.lines[entry - 1]}`,
            { line, customId: id },
          );
        }
      }
      slot = (slot + 1) & this.mask;
    }
    if (this.count >= this.maxIds || this.arenaBytes + length > this.maxIdBytes) {
      throw new OverflowError(
        'CUSTOM_ID_INDEX_FULL',
        `the custom_id set is full (${this.count} ids, ${this.arenaBytes} bytes; caps ${this.maxIds} ids, ${this.maxIdBytes} bytes)`,
        { line, customId: id },
      );
    }
    this.store(key, length, line);
    this.slots[slot] = this.count;
    this.fingerprints[slot] = hash;
    if (this.count > (this.mask + 1) * MAX_LOAD) this.grow();
  }

  private encode(id: string): number {
    // An id's UTF-8 form is at most three bytes per UTF-16 unit.
    if (id.length * 3 > this.scratch.length) this.scratch = Buffer.allocUnsafe(id.length * 3);
    // UTF-8 writes every lone surrogate (a JSON "\ud800") as U+FFFD, so "\ud800" and "\udc00" would be
    // taken for one id while the shard lines, the Batch API and the join keep them apart. Such an id is
    // kept as 0xFF (never in UTF-8) + its UTF-16 units instead: exact, and apart from every other id.
    if (LONE_SURROGATE.test(id)) {
      this.scratch[0] = 0xff;
      return 1 + this.scratch.write(id, 1, 'utf16le');
    }
    return this.scratch.write(id, 0, 'utf8');
  }

  private store(key: Buffer, length: number, line: number): void {
    if (this.arenaBytes + length > this.arena.length) {
      const next = Buffer.allocUnsafeSlow(Math.min(Math.max(this.arena.length * 2, this.arenaBytes + length), this.maxIdBytes));
      this.arena.copy(next, 0, 0, this.arenaBytes);
      releaseNow(this.arena);
      this.arena = next;
    }
    key.copy(this.arena, this.arenaBytes, 0, length);
    if (this.count + 1 >= this.offsets.length) {
      const offsets = new Uint32Array(this.offsets.length * 2);
      offsets.set(this.offsets);
      releaseNow(this.offsets);
      this.offsets = offsets;
      // Sized with the offsets (not doubled on its own, which fell further behind at every growth).
      const lines = new Uint32Array(offsets.length);
      lines.set(this.lines);
      releaseNow(this.lines);
      this.lines = lines;
    }
    this.lines[this.count] = line;
    this.arenaBytes += length;
    this.count++;
    this.offsets[this.count] = this.arenaBytes;
  }

  private grow(): void {
    const size = (this.mask + 1) * 2;
    const mask = size - 1;
    const slots = new Uint32Array(size);
    const fingerprints = new Uint32Array(size);
    for (let i = 0; i <= this.mask; i++) {
      const entry = this.slots[i];
      if (entry === EMPTY) continue;
      const hash = this.fingerprints[i];
      let slot = hash & mask;
      while (slots[slot] !== EMPTY) slot = (slot + 1) & mask;
      slots[slot] = entry;
      fingerprints[slot] = hash;
    }
    releaseNow(this.slots);
    releaseNow(this.fingerprints);
    this.slots = slots;
    this.fingerprints = fingerprints;
    this.mask = mask;
  }
}

/**
 * Frees the memory behind an array the set has just copied out of, now
 * instead of at the next full garbage collection: the copies a doubling
 * leaves behind are otherwise dead memory that V8 does not count toward a
 * collection until tens of megabytes of it have gathered. Detaching the
 * ArrayBuffer (transfer to length 0) releases its store at once. Only arrays
 * that own their whole buffer are released (never a slice of Node's pool);
 * on a runtime without ArrayBuffer.prototype.transfer the GC frees them later.
 */
function releaseNow(view: Uint8Array | Uint32Array): void {
  const store = view.buffer as ArrayBuffer & { transfer?: (length?: number) => ArrayBuffer };
  if (view.byteOffset === 0 && view.byteLength === store.byteLength) store.transfer?.(0);
}
