/**
 * The shape every network stage shares: objects in, each mapped by an async
 * call with several in flight, results out in input order. At most
 * `concurrency` calls run and at most `concurrency` finished results wait for
 * the reader (p-map's pMapIterable with backpressure), so memory is bounded by
 * the concurrency, whatever the input's length. A failure, an abort or a
 * destroyed stream aborts the calls still in flight through their signal.
 */
import { Duplex } from 'node:stream';
import { pMapIterable } from 'p-map';
import { AbortError, abortMessage } from '../errors.ts';
import { wholeNumberOption } from '../core/options.ts';
import { destroyOnAbort } from './abortable.ts';

export interface ConcurrentMapOptions {
  concurrency?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** Each call gets a signal that fires when the stage aborts, fails elsewhere or is destroyed. */
export type ConcurrentMapper<In, Out> = (item: In, signal: AbortSignal, index: number) => Promise<Out>;

export function checkConcurrency(value: number | undefined, fallback: number): number {
  return wholeNumberOption(value, 'concurrency', fallback, 1, 1024);
}

/**
 * The mapped items of `source`, in order. Stops the calls in flight when the
 * consumer stops early or a call fails.
 */
export async function* mapConcurrently<In, Out>(
  source: AsyncIterable<In> | Iterable<In>,
  mapper: ConcurrentMapper<In, Out>,
  concurrency: number,
  signal?: AbortSignal,
): AsyncGenerator<Awaited<Out>> {
  const stop = new AbortController();
  const inner = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  let index = 0;
  try {
    const results = pMapIterable(
      source,
      async (item: In) => {
        if (inner.aborted) throw new AbortError(abortMessage(inner));
        return mapper(item, inner, index++);
      },
      { concurrency, backpressure: concurrency },
    );
    for await (const result of results) {
      if (signal?.aborted) throw new AbortError(abortMessage(signal));
      yield result as Awaited<Out>;
    }
  } finally {
    stop.abort(new AbortError('The stage stopped'));
  }
}

/** mapConcurrently as an object-mode Duplex for stream.pipeline. */
export function createConcurrentMap<In, Out>(mapper: ConcurrentMapper<In, Out>, options: ConcurrentMapOptions & { concurrency: number }): Duplex {
  const duplex = Duplex.from(async function* (source: AsyncIterable<In>) {
    yield* mapConcurrently(source, mapper, options.concurrency, options.signal);
  });
  destroyOnAbort(duplex, options.signal);
  return duplex;
}
