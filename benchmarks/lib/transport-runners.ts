/**
 * One contender of transport.bench.ts, run in a child process of its own:
 *   node transport-runners.js <ours|raw|naive> <up|down> <base-url> <api-key> <concurrency> <job.json>
 * An upload job is {shards: ShardDescriptor[]}, a download job
 * {files: [{fileId, out}]}. Prints one JSON line: {seconds, bytes, fileIds,
 * maxRssMB, cpuSeconds}; `seconds` runs from the first request to the last
 * answer, `cpuSeconds` counts the whole process (start-up included).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import v8 from 'node:v8';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import OpenAI from 'openai';
import { request } from 'undici';
import { ApiClient } from '../../src/openai/client.ts';
import { downloadFile } from '../../src/openai/results.ts';
import { mapConcurrently } from '../../src/streams/concurrent-map.ts';
import { uploadShards } from '../../src/streams/upload.ts';
import type { ShardDescriptor } from '../../src/types.ts';
import { peakRssMB } from './peak-rss.ts';

interface DownloadJob {
  fileId: string;
  out: string;
}

interface Job {
  shards?: ShardDescriptor[];
  files?: DownloadJob[];
}

interface Done {
  fileId: string;
  bytes: number;
}

interface Transfer {
  base: string;
  apiKey: string;
  concurrency: number;
  /** Options for ours beyond the defaults (BENCH_OURS_OPTIONS, JSON): to try settings. */
  ours: Record<string, unknown>;
}

/** Every item through `work`, `concurrency` at a time, results in input order: what a careful script does. */
async function pool<T, R>(items: T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

async function oursUp(t: Transfer, shards: ShardDescriptor[]): Promise<Done[]> {
  const client = new ApiClient({ apiKey: t.apiKey, baseURL: `${t.base}/v1` });
  const done: Done[] = [];
  for await (const shard of uploadShards(shards, { ...t.ours, client, concurrency: t.concurrency })) done.push({ fileId: shard.fileId, bytes: shard.bytes });
  return done;
}

async function oursDown(t: Transfer, files: DownloadJob[]): Promise<Done[]> {
  const client = new ApiClient({ apiKey: t.apiKey, baseURL: `${t.base}/v1` });
  const done: Done[] = [];
  const saved = mapConcurrently(files, (file, signal) => downloadFile(client, file.fileId, file.out, { ...t.ours, signal }), t.concurrency);
  for await (const file of saved) done.push({ fileId: file.fileId, bytes: file.bytes });
  return done;
}

/** A multipart POST /v1/files around a file stream, with its Content-Length. */
async function rawUp(t: Transfer, shards: ShardDescriptor[]): Promise<Done[]> {
  return pool(shards, t.concurrency, async (shard) => {
    const boundary = `raw-${randomBytes(16).toString('hex')}`;
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${basename(shard.path)}"\r\nContent-Type: application/jsonl\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const { size } = await stat(shard.path);
    async function* body() {
      yield head;
      yield* createReadStream(shard.path);
      yield tail;
    }
    const response = await request(`${t.base}/v1/files`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${t.apiKey}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + size + tail.length),
      },
      // undici streams an async iterable body, which its types leave out.
      body: body() as unknown as Readable,
    });
    const file = (await response.body.json()) as { id: string; bytes: number };
    if (response.statusCode !== 200) throw new Error(`upload: HTTP ${response.statusCode} ${JSON.stringify(file)}`);
    return { fileId: file.id, bytes: file.bytes };
  });
}

/** GET /v1/files/{id}/content piped to a file. */
async function rawDown(t: Transfer, files: DownloadJob[]): Promise<Done[]> {
  return pool(files, t.concurrency, async (file) => {
    const response = await request(`${t.base}/v1/files/${file.fileId}/content`, { headers: { authorization: `Bearer ${t.apiKey}` } });
    if (response.statusCode !== 200) throw new Error(`download: HTTP ${response.statusCode}`);
    const out = createWriteStream(file.out);
    await pipeline(response.body, out);
    return { fileId: file.fileId, bytes: out.bytesWritten };
  });
}

/** The SDK as its README shows it, with its defaults (Node's own fetch, its own retries). */
async function naiveUp(t: Transfer, shards: ShardDescriptor[]): Promise<Done[]> {
  const client = new OpenAI({ apiKey: t.apiKey, baseURL: `${t.base}/v1` });
  return pool(shards, t.concurrency, async (shard) => {
    const file = await client.files.create({ file: createReadStream(shard.path), purpose: 'batch' });
    return { fileId: file.id, bytes: file.bytes };
  });
}

async function naiveDown(t: Transfer, files: DownloadJob[]): Promise<Done[]> {
  const client = new OpenAI({ apiKey: t.apiKey, baseURL: `${t.base}/v1` });
  return pool(files, t.concurrency, async (file) => {
    const text = await (await client.files.content(file.fileId)).text();
    await writeFile(file.out, text);
    return { fileId: file.fileId, bytes: Buffer.byteLength(text) };
  });
}

const UP = { ours: oursUp, raw: rawUp, naive: naiveUp };
const DOWN = { ours: oursDown, raw: rawDown, naive: naiveDown };

const [contender, side, base, apiKey, concurrency, jobPath] = process.argv.slice(2);
const job = JSON.parse(await readFile(jobPath, 'utf8')) as Job;
const transfer: Transfer = { base, apiKey, concurrency: Number(concurrency), ours: JSON.parse(process.env.BENCH_OURS_OPTIONS ?? '{}') };
// BENCH_MEMORY_TRACE=1: the largest value of each part of process.memoryUsage() (sampled every 50 ms), on stderr.
const peaks: Record<string, number> = {};
const sampler =
  process.env.BENCH_MEMORY_TRACE === '1'
    ? setInterval(() => {
        const usage = { ...process.memoryUsage(), newSpace: v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0 };
        for (const [key, value] of Object.entries(usage)) peaks[key] = Math.max(peaks[key] ?? 0, value);
      }, 50)
    : undefined;
const started = performance.now();
const done =
  side === 'up'
    ? await UP[contender as keyof typeof UP](transfer, job.shards ?? [])
    : await DOWN[contender as keyof typeof DOWN](transfer, job.files ?? []);
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage();
if (sampler) {
  clearInterval(sampler);
  const mb = Object.fromEntries(Object.entries(peaks).map(([key, value]) => [key, Math.round(value / 1048576)]));
  process.stderr.write(`${contender} ${side} memory peaks (MiB): ${JSON.stringify(mb)}\n`);
}
const bytes = done.reduce((sum, d) => sum + d.bytes, 0);
process.stdout.write(`${JSON.stringify({ seconds, bytes, fileIds: done.map((d) => d.fileId), maxRssMB: peakRssMB(), cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`);
