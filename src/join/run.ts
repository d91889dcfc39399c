/**
 * The three passes of the join. Memory stays bounded: the index costs about
 * 13.3 bytes per input request, spill buffers share one budget, and only one
 * partition of results (≤ maxPartitionBytes) is in memory at a time.
 *
 *   1. index  — stream the input, check each line is JSON, hash each
 *               custom_id into the index (and spool the input to the temp
 *               dir when it cannot be re-read);
 *   2. spill  — stream every result file; look each custom_id up and append
 *               the raw line to the partition file of its input ordinal;
 *   3. emit   — walk the input again; load each partition as the walk reaches
 *               it, check the custom_id strings, and emit one result per
 *               request in input order.
 *
 * Temp disk: every result line plus a 16-byte header, and a copy of the input
 * when it was given as a stream. Each partition file is deleted once loaded,
 * so the disk used falls while results are emitted; the directory is removed
 * on success, error, abort and early return.
 */
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JoinError, OverflowError, ValidationError, throwIfAborted } from '../errors.ts';
import { hashBytes64, type Hash64 } from '../core/hash.ts';
import { AMBIGUOUS, CustomIdIndex, MAX_INDEXED_REQUESTS, NOT_FOUND } from '../core/join/custom-id-index.ts';
import { customIdOf, customIdText, requestIdOf } from '../core/join/custom-id.ts';
import { ResultMatcher, type SpilledResult } from '../core/join/match.ts';
import { planPartitions } from '../core/join/partition.ts';
import { parseResultLine } from '../core/join/result-line.ts';
import { isBlank } from '../core/line-splitter.ts';
import type { JoinedResult } from '../types.ts';
import { asIoFailure } from '../io/system-error.ts';
import { writeAll } from '../io/write-all.ts';
import { lineBatches, type ByteSource } from './line-batches.ts';
import type { JoinStats, NormalizedJoinOptions } from './options.ts';
import { PartitionReader, type LoadedPartition } from './spill-reader.ts';
import { PartitionWriter } from './spill-writer.ts';

/** Seams for tests, kept out of the public JoinOptions. */
export interface JoinInternals {
  /** The custom_id hash; a weak one forces collisions. */
  hash?: Hash64;
  /** The input was validated line by line already (runBatch's own): pass 1 skips its JSON check. */
  inputChecked?: boolean;
}

/** What one join keeps while it runs; nothing here is shared with another run. */
interface JoinRun {
  options: NormalizedJoinOptions;
  stats: JoinStats;
  dir: string;
  index: CustomIdIndex;
  matcher: ResultMatcher;
  hash: Hash64;
  /** Where `hash` writes a custom_id's key, read back at once. */
  key: Int32Array;
  inputChecked: boolean;
}

export function runJoin(options: NormalizedJoinOptions, stats: JoinStats, internals: JoinInternals = {}): AsyncGenerator<JoinedResult> {
  return runPasses(options, stats, internals, (matcher, bytes, line, records) => matcher.match(bytes, line, records));
}

/**
 * The join with each result as one JSON line (Buffer, no line break),
 * written from the result line's bytes rather than parsed and serialised
 * again: for a sink that writes JSONL (runBatch's).
 */
export function runJoinLines(options: NormalizedJoinOptions, stats: JoinStats, internals: JoinInternals = {}): AsyncGenerator<Buffer> {
  return runPasses(options, stats, internals, (matcher, bytes, line, records) => matcher.matchLine(bytes, line, records));
}

type Produce<T> = (matcher: ResultMatcher, bytes: Buffer, line: number, records: Iterable<SpilledResult>) => T;

async function* runPasses<T>(options: NormalizedJoinOptions, stats: JoinStats, internals: JoinInternals, produce: Produce<T>): AsyncGenerator<T> {
  throwIfAborted(options.signal);
  // A failed file-system call on the temp files is an IO_FAILED IoError naming the file.
  const dir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'batchline-join-')).catch((err: unknown) => {
    throw asIoFailure(err);
  });
  stats.tempDir = dir;
  const run: JoinRun = {
    options,
    stats,
    dir,
    index: new CustomIdIndex(),
    matcher: new ResultMatcher(
      { sourceNames: options.results.map((result) => result.name), includeRequest: options.includeRequest, onIssue: options.onIssue },
      stats,
    ),
    hash: internals.hash ?? hashBytes64,
    key: new Int32Array(2),
    inputChecked: internals.inputChecked ?? false,
  };
  try {
    const input = await indexInput(run);
    run.index.seal();
    stats.requests = run.index.size;
    stats.indexBytes = run.index.bytes;
    const exactIds = run.index.ambiguousKeys > 0 ? await resolveAmbiguous(run, input) : new Map<string, number>();
    const plan = planPartitions(run.index.size, options.partitionRequests, options.maxPartitions);
    stats.partitions = plan.count;
    const sizes = await spillResults(run, exactIds, plan.span, plan.count);
    stats.spilledBytes = sizes.reduce((sum, bytes) => sum + bytes, 0);
    yield* emitInOrder(run, input, plan.span, plan.count, produce);
  } catch (err) {
    throw asIoFailure(err);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Pass 1. Returns a source that reads the input again. */
async function indexInput(run: JoinRun): Promise<ByteSource> {
  const { options, index, hash, key } = run;
  let spool: FileHandle | undefined;
  let again: ByteSource = options.input;
  if (typeof options.input !== 'string') {
    again = join(run.dir, 'input.jsonl');
    spool = await open(again, 'w');
  }
  try {
    const write = spool ? (chunk: Buffer) => writeAll(spool, [chunk]) : undefined;
    for await (const batch of lineBatches(options.input, options.maxLineBytes, options.signal, write)) {
      for (let i = 0; i < batch.lines.length; i++) {
        const bytes = batch.lines[i];
        if (isBlank(bytes)) continue;
        const id = requestIdOf(bytes, { source: 'input', line: batch.numbers[i] }, !run.inputChecked);
        if (index.size >= MAX_INDEXED_REQUESTS) {
          throw new OverflowError('JOIN_INDEX_OVERFLOW', `the input holds more than ${MAX_INDEXED_REQUESTS} requests`, {
            line: batch.numbers[i],
          });
        }
        hash(id.bytes, 0, id.bytes.length, key);
        index.append(key[0], key[1]);
      }
    }
  } finally {
    await spool?.close();
  }
  return again;
}

/**
 * Custom_ids whose hash another custom_id shares are few (true 64-bit
 * collisions are vanishingly rare); a repeated custom_id also lands here, and
 * this is where it is named, with its line.
 */
async function resolveAmbiguous(run: JoinRun, input: ByteSource): Promise<Map<string, number>> {
  const { options, index, hash, key } = run;
  const exact = new Map<string, number>();
  let ordinal = 0;
  for await (const batch of lineBatches(input, options.maxLineBytes, options.signal)) {
    for (let i = 0; i < batch.lines.length; i++) {
      const bytes = batch.lines[i];
      if (isBlank(bytes)) continue;
      const line = batch.numbers[i];
      const id = requestIdOf(bytes, { source: 'input', line });
      hash(id.bytes, 0, id.bytes.length, key);
      if (index.lookup(key[0], key[1]) === AMBIGUOUS) {
        const text = customIdText(id);
        if (exact.has(text)) {
          throw new ValidationError('DUPLICATE_CUSTOM_ID', `input line ${line}: custom_id ${JSON.stringify(text)} is repeated`, {
            line,
            customId: text,
          });
        }
        if (exact.size >= options.maxAmbiguousIds) {
          throw new OverflowError(
            'JOIN_INDEX_OVERFLOW',
            `more than ${options.maxAmbiguousIds} custom_ids share a hash with another; the input likely repeats custom_ids`,
            { line },
          );
        }
        exact.set(text, ordinal);
      }
      ordinal++;
    }
  }
  return exact;
}

/** Pass 2. Returns the bytes spilled per partition. */
async function spillResults(run: JoinRun, exactIds: Map<string, number>, span: number, count: number): Promise<number[]> {
  const { options, stats, index, matcher, hash, key } = run;
  const writer = await PartitionWriter.create(run.dir, 'part', count, options.spillBufferBytes);
  try {
    for (let source = 0; source < options.results.length; source++) {
      const name = matcher.sourceName(source);
      for await (const batch of lineBatches(options.results[source].source, options.maxLineBytes, options.signal)) {
        for (let i = 0; i < batch.lines.length; i++) {
          const bytes = batch.lines[i];
          if (isBlank(bytes)) continue;
          stats.resultLines++;
          const line = batch.numbers[i];
          const id = customIdOf(bytes);
          if (!id) {
            parseResultLine(bytes, { source: name, line });
            throw new JoinError('INVALID_RESULT_LINE', `${name} line ${line}: custom_id must be a string`, { line });
          }
          hash(id.bytes, 0, id.bytes.length, key);
          let ordinal = index.lookup(key[0], key[1]);
          if (ordinal === AMBIGUOUS) ordinal = exactIds.get(customIdText(id)) ?? NOT_FOUND;
          if (ordinal === NOT_FOUND) {
            matcher.unknownResult({ source: name, line }, customIdText(id));
            continue;
          }
          writer.append(Math.floor(ordinal / span), { ordinal, source, line, length: bytes.length }, bytes);
        }
        await writer.drain();
      }
    }
    return await writer.finish();
  } catch (err) {
    await writer.close();
    throw err;
  }
}

/** Pass 3. */
async function* emitInOrder<T>(run: JoinRun, input: ByteSource, span: number, count: number, produce: Produce<T>): AsyncGenerator<T> {
  const { options, stats, matcher, dir } = run;
  const reader = new PartitionReader({
    dir,
    maxPartitionBytes: options.maxPartitionBytes,
    maxSingleOrdinalBytes: Math.max(options.maxPartitionBytes, 2 * options.maxLineBytes + 64),
    signal: options.signal,
    onSplit: () => void stats.splits++,
  });
  async function* partitions(): AsyncGenerator<LoadedPartition> {
    for (let k = 0; k < count; k++) {
      const range = { first: k * span, end: Math.min(stats.requests, (k + 1) * span) };
      yield* reader.load(join(dir, `part-${k}.bin`), range);
    }
  }
  const loader = partitions();
  let partition: LoadedPartition | undefined;
  let ordinal = 0;
  try {
    for await (const batch of lineBatches(input, options.maxLineBytes, options.signal)) {
      for (let i = 0; i < batch.lines.length; i++) {
        const bytes = batch.lines[i];
        if (isBlank(bytes)) continue;
        while (!partition || ordinal >= partition.range.end) {
          const next = await loader.next();
          if (next.done) throw inputChanged('more');
          partition = next.value;
        }
        yield produce(matcher, bytes, batch.numbers[i], partition.recordsFor(ordinal));
        ordinal++;
      }
    }
  } finally {
    await loader.return(undefined);
  }
  if (ordinal !== stats.requests) throw inputChanged('fewer');
}

function inputChanged(which: 'more' | 'fewer'): JoinError {
  return new JoinError('INPUT_CHANGED', `the input changed while it was joined: it now holds ${which} requests than when indexed`);
}
