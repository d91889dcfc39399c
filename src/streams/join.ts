/**
 * The join stage: one result per input request, in input order, from any
 * number of shuffled output and error files, in bounded memory (see
 * src/join/run.ts for the passes and their costs).
 */
import { Duplex } from 'node:stream';
import type { JoinedResult } from '../types.ts';
import { newJoinStats, normalizeJoinOptions, type JoinOptions, type JoinStats } from '../join/options.ts';
import { destroyOnAbort } from './abortable.ts';
import { runJoin } from '../join/run.ts';

export type { JoinOptions, JoinStats, ResultSource } from '../join/options.ts';

/** An async iterable of joined results whose `stats` fill in as it runs. */
export interface JoinIterable extends AsyncIterable<JoinedResult> {
  readonly stats: JoinStats;
}

/**
 * Joins results to their input. Nothing is read until iteration starts;
 * breaking out of the loop (or an error, or the abort signal) removes the
 * temp directory.
 */
export function joinResults(options: JoinOptions): JoinIterable {
  const normalized = normalizeJoinOptions(options);
  const stats = newJoinStats();
  return {
    stats,
    [Symbol.asyncIterator]: () => runJoin(normalized, stats),
  };
}

/** A Duplex for stream.pipeline: input JSONL bytes in, JoinedResult objects out. */
export interface Joiner extends Duplex {
  readonly stats: JoinStats;
}

/**
 * The joiner as a pipeline stage: write the original input into it (bytes or
 * strings); it reads `results` once the input has ended and pushes one
 * JoinedResult per request, honouring backpressure. The input is spooled to
 * the temp directory because the join reads it twice.
 */
export function createJoiner(options: Omit<JoinOptions, 'input'>): Joiner {
  // Check the options now, so a bad one fails at construction and not mid-pipeline.
  normalizeJoinOptions({ ...options, input: { async *[Symbol.asyncIterator]() {} } });
  const stats = newJoinStats();
  const duplex = Duplex.from(async function* (source: AsyncIterable<Buffer | string>) {
    yield* runJoin(normalizeJoinOptions({ ...options, input: source }), stats);
  }) as Joiner;
  Object.defineProperty(duplex, 'stats', { value: stats, enumerable: true });
  // The join's own checks of the signal run only between reads; while it waits for input (or for a
  // reader) only destroying the stream stops it, which also ends the join and removes its temp directory.
  destroyOnAbort(duplex, options.signal);
  return duplex;
}
