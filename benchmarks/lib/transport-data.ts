/**
 * The shards the transport benchmark sends: generated chat requests run
 * through parse → validate → createSharder once, under benchmarks/data/, and
 * reused while their descriptors (shards.json, written last) match the files.
 */
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { seededRandom } from '../../src/core/seeded-random.ts';
import { parseSource } from '../../src/streams/parse.ts';
import { createSharder } from '../../src/streams/shard.ts';
import { createValidator } from '../../src/streams/validate.ts';
import type { ShardDescriptor } from '../../src/types.ts';
import { requestLine, type LineSize } from './requests-data.ts';

/**
 * 4–6 KB a line (5 KB on average): a 190 MB shard then holds ≈ 38,000
 * requests, under the 50,000 a batch may hold, so the byte limit is what
 * cuts the shards.
 */
const LINE_SIZE: LineSize = { min: 4096, spread: 2048 };
const LONGEST_LINE = 8192;

export interface ShardSet {
  dir: string;
  shards: ShardDescriptor[];
  bytes: number;
  created: boolean;
}

async function* requestText(megabytes: number): AsyncGenerator<string> {
  const random = seededRandom(20_240_917);
  const want = megabytes * 1_000_000;
  let bytes = 0;
  let pending: string[] = [];
  let size = 0;
  for (let i = 0; bytes < want; i++) {
    const line = `${requestLine(random, i, LINE_SIZE)}\n`;
    bytes += Buffer.byteLength(line);
    pending.push(line);
    size += line.length;
    if (size >= 1 << 20) {
      yield pending.join('');
      pending = [];
      size = 0;
    }
  }
  if (pending.length > 0) yield pending.join('');
}

async function reusable(dir: string): Promise<ShardDescriptor[] | undefined> {
  const shards = await readFile(join(dir, 'shards.json'), 'utf8').then((text) => JSON.parse(text) as ShardDescriptor[], () => undefined);
  if (!shards) return undefined;
  for (const shard of shards) {
    const info = await stat(shard.path).catch(() => undefined);
    if (info?.size !== shard.bytes) return undefined;
  }
  return shards;
}

/** `count` shards of about megabytes / count MB each, made once under `root`. */
export async function ensureShards(root: string, megabytes: number, count: number): Promise<ShardSet> {
  const dir = join(root, `transport-${megabytes}mb-${count}`);
  const existing = await reusable(dir);
  if (existing) return { dir, shards: existing, bytes: existing.reduce((sum, s) => sum + s.bytes, 0), created: false };
  await rm(dir, { recursive: true, force: true });
  // Each shard fills to within one line of maxBytes, so `count` shards hold the whole input.
  const maxBytes = Math.ceil((megabytes * 1_000_000 + LONGEST_LINE) / count) + LONGEST_LINE;
  if (maxBytes > 200_000_000) throw new Error(`${megabytes} MB in ${count} shards would need shards over 200 MB`);
  const shards: ShardDescriptor[] = [];
  await pipeline(
    parseSource(requestText(megabytes)),
    createValidator(),
    createSharder({ dir, maxBytes }),
    new Writable({
      objectMode: true,
      write(shard: ShardDescriptor, _encoding, callback) {
        shards.push(shard);
        callback();
      },
    }),
  );
  if (shards.length !== count) throw new Error(`expected ${count} shards, the sharder made ${shards.length}`);
  await writeFile(join(dir, 'shards.json'), JSON.stringify(shards, null, 1));
  return { dir, shards, bytes: shards.reduce((sum, s) => sum + s.bytes, 0), created: true };
}
