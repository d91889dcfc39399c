/**
 * Seeded, deterministic choices for the emulator: which requests fail, how
 * result files are shuffled, what ids and vectors look like. Pure functions;
 * the same inputs give the same outputs on every run and every machine.
 */
import { fmix32, hash32, hash32Continue, hash32Prefix } from './hash.ts';

// The emulator draws its choices from hash32 next to the generator below.
export { hash32 };

/** A seeded pseudo-random generator (mulberry32) returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates in place with a seeded generator; any indexable list (an array, a Uint32Array). */
export function shuffleInPlace<L extends { length: number; [index: number]: unknown }>(items: L, seed: number): L {
  const random = seededRandom(seed);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = items[i];
    items[i] = items[j];
    items[j] = swap;
  }
  return items;
}

/** A 64-bit key for a string as two independent 32-bit hashes: ids derived from it collide only past billions of keys. */
export type StableKey = readonly [number, number];

const KEY_SEEDS = [0x1b873593, 0xcc9e2d51] as const;

export function keyOf(text: string): StableKey {
  return [hash32(text, KEY_SEEDS[0]), hash32(text, KEY_SEEDS[1])];
}

/** keyOf(prefix + text) for many texts after one prefix, hashing the prefix once. */
export class KeyPrefix {
  private readonly states: readonly [number, number];

  constructor(prefix: string) {
    this.states = [hash32Prefix(prefix, KEY_SEEDS[0]), hash32Prefix(prefix, KEY_SEEDS[1])];
  }

  /** Writes keyOf(prefix + text) into `key`, which is reused rather than a new pair allocated per text. */
  keyInto(text: string, key: [number, number]): void {
    key[0] = hash32Continue(this.states[0], text);
    key[1] = hash32Continue(this.states[1], text);
  }
}

/** Two hex digits per byte value: a word becomes hex in four look-ups (the emulator writes three ids a result line). */
const BYTE_HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** The word behind hex digits 8·(round−1) … 8·round − 1 of hexOf(key, salt). */
function hexWord(key: StableKey, salt: number, round: number): number {
  return fmix32(key[0] ^ Math.imul(salt * 16 + round, 0x9e3779b9)) ^ fmix32((key[1] + Math.imul(round, 0x85ebca6b) + salt) >>> 0);
}

/** Hex digits derived from a key and a salt, so one key gives several unrelated ids without hashing the string again. */
export function hexOf(key: StableKey, salt: number, length = 32): string {
  let hex = '';
  for (let round = 1; hex.length < length; round++) {
    const word = hexWord(key, salt, round);
    hex += BYTE_HEX[word >>> 24] + BYTE_HEX[(word >>> 16) & 0xff] + BYTE_HEX[(word >>> 8) & 0xff] + BYTE_HEX[word & 0xff];
  }
  return hex.length === length ? hex : hex.slice(0, length);
}

/** ASCII of the hex digits 0-f. */
const HEX_ASCII = Uint8Array.from('0123456789abcdef', (digit) => digit.charCodeAt(0));

/** hexOf(key, salt, length) as ASCII bytes written into `target` at `at`, with no string made; returns the offset after them. */
export function writeHexOf(key: StableKey, salt: number, length: number, target: Uint8Array, at: number): number {
  for (let round = 1, written = 0; written < length; round++) {
    const word = hexWord(key, salt, round);
    for (let shift = 28; shift >= 0 && written < length; shift -= 4, written++) target[at++] = HEX_ASCII[(word >>> shift) & 0xf];
  }
  return at;
}

/** A stable hex id derived from a string: the same parts always give the same id. */
export function stableHex(parts: string, length = 32): string {
  return hexOf(keyOf(parts), 0, length);
}
