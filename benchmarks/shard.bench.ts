/**
 * parse + validate + shard (as library stages and as the `batchline shard`
 * CLI) against the script a user writes by hand (readline + JSON.parse +
 * JSON.stringify + write) and two raw reads of the file.
 *
 *   node_modules/.bin/node benchmarks/shard.bench.ts [--mb N] [--rounds N]
 *
 * Each variant runs in its own child process so that its peak RSS
 * (VmHWM, see lib/peak-rss.ts) is its own; the children run the stages
 * as plain JavaScript, as the published package does, with V8's default
 * flags (the CLI variant then applies its own start-up setting, as the
 * installed binary does). The input is generated once under
 * benchmarks/data/ and reused.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { compileGraph } from './lib/compile.ts';
import { ensureRequestFile } from './lib/requests-data.ts';
import { VARIANT_LABELS, type VariantResult } from './lib/variants.ts';

const ROOT = join(import.meta.dirname, '..');
const DATA_DIR = join(import.meta.dirname, 'data');

interface Scripts {
  variants: string;
  cli: string;
  hook: string;
}

function runChild(scripts: Scripts, variant: string, input: string, out: string): Promise<VariantResult> {
  // The CLI entry is the child's main module, as bin/batchline.js is; a preload records its peak on
  // exit and, since the CLI prints its shard descriptors on stdout, the result comes back in a file.
  const resultFile = join(DATA_DIR, `result-${variant}.json`);
  const args =
    variant === 'cli'
      ? ['--import', pathToFileURL(scripts.hook).href, scripts.cli, 'shard', input, '--out-dir', out]
      : [scripts.variants, variant, input, out];
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, BENCH_RESULT: resultFile },
    });
    let text = '';
    proc.stdout.on('data', (c) => (text += c));
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code !== 0) return reject(new Error(`variant ${variant} exited ${code}`));
      if (variant !== 'cli') return resolve(JSON.parse(text) as VariantResult);
      readFile(resultFile, 'utf8').then((json) => {
        const descriptors = text.trim().split('\n').map((line) => JSON.parse(line) as { requests: number; bytes: number });
        const result = { variant, ...JSON.parse(json) } as VariantResult;
        result.requests = descriptors.reduce((sum, d) => sum + d.requests, 0);
        result.bytes = descriptors.reduce((sum, d) => sum + d.bytes, 0);
        result.shards = descriptors.length;
        resolve(result);
      }, reject);
    });
  });
}

async function sha256Of(paths: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const path of paths) for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The shards, read back in index order, must be the input byte for byte, each within the per-file limits. */
async function verifyShards(input: string, dir: string): Promise<string> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort();
  let largest = 0;
  let most = 0;
  for (const name of names) {
    let bytes = 0;
    let lines = 0;
    for await (const chunk of createReadStream(join(dir, name), { highWaterMark: 1024 * 1024 })) {
      const buffer = chunk as Buffer;
      bytes += buffer.length;
      for (let at = buffer.indexOf(10); at !== -1; at = buffer.indexOf(10, at + 1)) lines++;
    }
    largest = Math.max(largest, bytes);
    most = Math.max(most, lines);
  }
  if (largest > 200_000_000 || most > 50_000) throw new Error(`a shard is over the limits: ${largest} bytes, ${most} requests`);
  if ((await sha256Of([input])) !== (await sha256Of(names.map((n) => join(dir, n))))) throw new Error('the shards differ from the input');
  return `${names.length} shards (largest ${largest} bytes, most ${most} requests), byte-identical to the input in order`;
}

async function main(megabytes: number, rounds: number): Promise<void> {
  const input = join(DATA_DIR, `requests-${megabytes}mb.jsonl`);
  const { bytes, created } = await ensureRequestFile(input, megabytes);
  process.stderr.write(`${created ? 'generated' : 'reusing'} ${input} (${bytes} bytes)\n`);
  const compiled = join(DATA_DIR, 'js');
  const scripts: Scripts = {
    variants: await compileGraph(join(import.meta.dirname, 'lib/variants.ts'), ROOT, compiled),
    cli: await compileGraph(join(ROOT, 'src/cli/entry.ts'), ROOT, compiled),
    hook: await compileGraph(join(import.meta.dirname, 'lib/peak-on-exit.ts'), ROOT, compiled),
  };
  const variants = ['c', 'd', 'a', 'cli', 'b'];
  const runs: Record<string, VariantResult[]> = Object.fromEntries(variants.map((v) => [v, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const variant of variants) {
      const out = join(DATA_DIR, `out-${variant}`);
      await rm(out, { recursive: true, force: true });
      const result = await runChild(scripts, variant, input, out);
      runs[variant].push(result);
      process.stderr.write(`round ${round} ${variant}: ${result.seconds.toFixed(2)} s, peak RSS ${result.maxRssMB.toFixed(1)} MB\n`);
      if ((variant === 'a' || variant === 'cli') && round === rounds) process.stderr.write(`verified ${variant}: ${await verifyShards(input, out)}\n`);
      await rm(out, { recursive: true, force: true });
    }
  }
  // Fastest round for speed (the machine is shared), highest peak RSS seen for memory.
  const best = (v: string) => runs[v].reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const peak = (v: string) => Math.max(...runs[v].map((r) => r.maxRssMB));
  const mbps = (v: string) => bytes / 1e6 / best(v).seconds;
  const rows = ['a', 'cli', 'b', 'c', 'd'].map(
    (v) =>
      `| ${VARIANT_LABELS[v]} | ${mbps(v).toFixed(0)} | ${best(v).seconds.toFixed(2)} | ${peak(v).toFixed(1)} | ${(mbps(v) / mbps('b')).toFixed(2)} | ${(mbps(v) / mbps('c')).toFixed(2)} |`,
  );
  process.stdout.write(
    [
      `Input ${(bytes / 1e6).toFixed(0)} MB, ${best('a').requests} requests → ${best('a').shards} shards; best of ${rounds} round(s), Node ${process.version}; custom_id set ${best('a').customIdSetMB?.toFixed(1)} MB.`,
      '',
      '| variant | MB/s | seconds | peak RSS (MB) | × (b) | × (c) |',
      '|---|---:|---:|---:|---:|---:|',
      ...rows,
      '',
    ].join('\n'),
  );
}

const { values } = parseArgs({ options: { mb: { type: 'string', default: '100' }, rounds: { type: 'string', default: '1' } } });
await main(Number(values.mb), Number(values.rounds));
