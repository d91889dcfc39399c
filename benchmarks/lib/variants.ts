/**
 * The contenders of shard.bench.ts, run one per child process:
 *   node variants.js <a|b|c|d> <input.jsonl> <out-dir>
 * and printing one JSON result line with the child's own peak RSS.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pumpFile } from '../../src/io/file-reader.ts';
import { parseFile } from '../../src/streams/parse.ts';
import { createSharder } from '../../src/streams/shard.ts';
import { createValidator } from '../../src/streams/validate.ts';
import { peakRssMB } from './peak-rss.ts';

const READ_CHUNK_BYTES = 64 * 1024;

export interface VariantResult {
  variant: string;
  seconds: number;
  bytes: number;
  requests: number;
  shards: number;
  maxRssMB: number;
  /** What the exact custom_id set held at the end (variant a). */
  customIdSetMB?: number;
}

type Counts = { bytes: number; requests: number; shards: number; customIdSetMB?: number };

export const VARIANT_LABELS: Record<string, string> = {
  a: '(a) batchline parse → validate → shard, V8 defaults',
  cli: '(a-cli) `batchline shard` (its young-generation setting)',
  b: '(b) readline + JSON.parse + JSON.stringify + write',
  c: '(c) raw read, createReadStream (cat speed)',
  d: '(d) raw read, pumpFile (reused buffers)',
};

/** The stages as a library user runs them in their own process: V8's default flags. */
async function batchline(input: string, out: string): Promise<Counts> {
  const validator = createValidator();
  const sharder = createSharder({ dir: out });
  const parser = parseFile(input);
  await pipeline(
    parser,
    validator,
    sharder,
    new Writable({ objectMode: true, write: (_descriptor, _encoding, callback) => callback() }),
  );
  return {
    bytes: parser.stats.bytes,
    requests: validator.stats.requests,
    shards: sharder.stats.shards,
    customIdSetMB: validator.stats.customIds.memoryBytes / 1048576,
  };
}

/** What most people write first: correct, with backpressure, one output file. */
async function byHand(input: string, out: string): Promise<Counts> {
  await mkdir(out, { recursive: true });
  const lines = createInterface({ input: createReadStream(input), crlfDelay: Infinity });
  const file = createWriteStream(join(out, 'requests.jsonl'));
  let requests = 0;
  for await (const line of lines) {
    if (line.length === 0) continue;
    const request = JSON.parse(line);
    requests++;
    if (!file.write(`${JSON.stringify(request)}\n`)) await once(file, 'drain');
  }
  file.end();
  await once(file, 'finish');
  return { bytes: file.bytesWritten, requests, shards: 1 };
}

async function rawRead(input: string): Promise<Counts> {
  let bytes = 0;
  for await (const chunk of createReadStream(input, { highWaterMark: READ_CHUNK_BYTES })) bytes += (chunk as Buffer).length;
  return { bytes, requests: 0, shards: 0 };
}

async function rawPump(input: string): Promise<Counts> {
  let bytes = 0;
  const counter = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      callback();
    },
  });
  await pumpFile(input, counter);
  return { bytes, requests: 0, shards: 0 };
}

const RUNNERS: Record<string, (input: string, out: string) => Promise<Counts>> = { a: batchline, b: byHand, c: rawRead, d: rawPump };

if (process.argv[1] === import.meta.filename) {
  const [variant, input, out] = process.argv.slice(2);
  const started = performance.now();
  const counts = await RUNNERS[variant](input, out);
  const seconds = (performance.now() - started) / 1000;
  const result: VariantResult = { variant, seconds, ...counts, maxRssMB: peakRssMB() };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
