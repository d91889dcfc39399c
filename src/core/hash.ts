/**
 * The non-cryptographic hashes batchline keys things by: custom_ids in the
 * validator's unique-id set and the joiner's index, and the emulator's seeded
 * choices. All are FNV-1a over the input, finished with murmur3's finaliser.
 *
 * No value is written to disk, but the emulator's answers (which requests
 * fail, the order of its result files, its ids) follow from hash32, so
 * that function must keep its values for runs to stay reproducible.
 */

// As int32 (`| 0`): V8 keeps a loop variable that starts above 2^31 as a double, three times slower.
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/** Murmur3's finaliser: spreads every input bit over the whole word. Returns an unsigned 32-bit value. */
export function fmix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over bytes[start, end), finalised so that its low bits serve as a table slot. Unsigned 32-bit. */
export function hashBytes32(bytes: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i], FNV_PRIME);
  return fmix32(h);
}

/** FNV-1a over a string's UTF-16 code units, started from a seed and finalised. Unsigned 32-bit. */
export function hash32(text: string, seed = 0): number {
  return fmix32(fnvOver(FNV_OFFSET ^ seed, text));
}

/**
 * The unfinished state of hash32 after `prefix`: `hash32Continue(hash32Prefix(p, seed), t)`
 * equals `hash32(p + t, seed)`, so a prefix shared by many texts is hashed once.
 */
export function hash32Prefix(prefix: string, seed = 0): number {
  return fnvOver(FNV_OFFSET ^ seed, prefix);
}

export function hash32Continue(state: number, text: string): number {
  return fmix32(fnvOver(state, text));
}

function fnvOver(state: number, text: string): number {
  let h = state;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h;
}

/** A 64-bit hash of bytes[start, end), written as two 32-bit halves to out[0] and out[1]. */
export type Hash64 = (bytes: Uint8Array, start: number, end: number, out: Int32Array) => void;

/**
 * Two independent 32-bit lanes in one pass over the bytes (the joiner hashes
 * every input and result custom_id, so this is on its hot path): FNV-1a with
 * the length folded in and murmur3's finaliser, and a second multiply-xorshift
 * lane with a different finaliser (Wellons' lowbias32).
 */
export function hashBytes64(bytes: Uint8Array, start: number, end: number, out: Int32Array): void {
  let a = FNV_OFFSET;
  let b = 0x9747b28c | 0;
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    a = Math.imul(a ^ c, FNV_PRIME);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  b ^= b >>> 16;
  b = Math.imul(b, 0x7feb352d);
  b ^= b >>> 15;
  b = Math.imul(b, 0x846ca68b);
  b ^= b >>> 16;
  out[0] = fmix32(a ^ (end - start));
  out[1] = b;
}
