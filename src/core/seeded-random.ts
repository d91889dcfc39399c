/**
 * Seeded, deterministic choices for the emulator: which requests fail, how
 * result files are shuffled, what ids and vectors look like. Pure functions;
 * the same inputs give the same outputs on every run and every machine.
 */

/** 32-bit FNV-1a over a string, mixed with a seed; the root of every deterministic choice here. */
export function hash32(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // A final avalanche so that nearby custom_ids ("r1", "r2") do not give nearby values.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

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

/** Fisher–Yates in place with a seeded generator. */
export function shuffleInPlace<T>(items: T[], seed: number): T[] {
  const random = seededRandom(seed);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = items[i];
    items[i] = items[j];
    items[j] = swap;
  }
  return items;
}

/** A stable hex id derived from a string: the same parts always give the same id. */
export function stableHex(parts: string, length = 32): string {
  let hex = '';
  for (let round = 0; hex.length < length; round++) hex += hash32(parts, 0x9e3779b9 * (round + 1)).toString(16).padStart(8, '0');
  return hex.slice(0, length);
}
