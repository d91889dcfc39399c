/**
 * The whole trip, end to end, against the emulator: batchline's runBatch
 * beside the flow a user writes with only the openai SDK (read all, one file
 * per 50,000, files.create, batches.create, poll, download, Map join), on the
 * same requests (~1.3 KB chat requests), the same emulator, one after the
 * other, each in a process of its own (compiled to plain JavaScript, as the
 * package ships) whose peak RSS is its own.
 *
 *   node_modules/.bin/node benchmarks/e2e.bench.ts [--requests 200000] [--contenders ours,naive]
 *        [--batch-duration-ms 1000] [--rounds 1] [--profile]
 *
 * The emulator runs in a child process with its files on disk; its batches
 * take --batch-duration-ms each once validated. --profile: a CPU profile of
 * each contender under benchmarks/data/prof/.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compileGraph } from './lib/compile.ts';
import { requestLine } from './lib/requests-data.ts';
import { seededRandom } from '../src/core/seeded-random.ts';
import { median } from './lib/transport-harness.ts';

const ROOT = join(import.meta.dirname, '..');
const DATA_DIR = join(import.meta.dirname, 'data');
const API_KEY = 'bench-key';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '200000' },
    contenders: { type: 'string', default: 'ours,naive' },
    'batch-duration-ms': { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '1' },
    profile: { type: 'boolean', default: false },
  },
});
const requests = Number(values.requests);
const contenders = values.contenders.split(',').filter(Boolean);

async function ensureInput(n: number): Promise<{ path: string; bytes: number }> {
  const path = join(DATA_DIR, `e2e-${n}.jsonl`);
  const existing = await stat(path).catch(() => undefined);
  if (existing) return { path, bytes: existing.size };
  await mkdir(DATA_DIR, { recursive: true });
  const out = createWriteStream(`${path}.partial`, { highWaterMark: 1 << 20 });
  const random = seededRandom(42);
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const line = `${requestLine(random, i, { min: 1000, spread: 600 })}\n`;
    bytes += Buffer.byteLength(line);
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const { rename } = await import('node:fs/promises');
  await rename(`${path}.partial`, path);
  return { path, bytes };
}

interface Result {
  seconds: number;
  maxRssMB: number;
  requests: number;
  succeeded: number;
  batches: number;
  stages?: Record<string, number>;
}

async function startEmulator(script: string, stateDir: string): Promise<{ url: string; stop: () => Promise<number> }> {
  const proc = spawn(process.execPath, [script, API_KEY, stateDir, values['batch-duration-ms']], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error('the emulator did not start');
  return {
    url: (JSON.parse(first.value) as { url: string }).url,
    async stop() {
      proc.stdin.end();
      const last = await lines.next();
      return last.done ? NaN : (JSON.parse(last.value) as { maxRssMB: number }).maxRssMB;
    },
  };
}

function runChild(script: string, args: string[]): Promise<Result> {
  const flags = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(DATA_DIR, 'prof')}`] : [];
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...flags, script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    proc.stdout.on('data', (chunk) => (text += chunk));
    proc.on('close', (code) => (code === 0 ? resolve(JSON.parse(text) as Result) : reject(new Error(`${script} exited ${code}`))));
  });
}

const { path: input, bytes } = await ensureInput(requests);
console.log(`e2e: ${requests.toLocaleString('en-US')} requests, ${(bytes / 1e6).toFixed(0)} MB, batch duration ${values['batch-duration-ms']} ms`);
const out = join(DATA_DIR, 'e2e-js');
const scripts = {
  emulator: await compileGraph(join(import.meta.dirname, 'lib/e2e-emulator.ts'), ROOT, out),
  ours: await compileGraph(join(import.meta.dirname, 'lib/e2e-ours.ts'), ROOT, out),
  naive: await compileGraph(join(import.meta.dirname, 'lib/e2e-naive.ts'), ROOT, out),
};
const results: Record<string, Result[]> = {};
for (let round = 0; round < Number(values.rounds); round++) {
  for (const name of contenders) {
    const work = join(DATA_DIR, `e2e-run-${name}`);
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    const emulator = await startEmulator(scripts.emulator, join(work, 'emulator'));
    const script = scripts[name as 'ours' | 'naive'];
    const result = await runChild(script, [`${emulator.url}/v1`, API_KEY, input, join(work, 'results.jsonl'), join(work, 'state')]);
    const emulatorRss = await emulator.stop();
    (results[name] ??= []).push(result);
    console.log(`  ${name}: ${result.seconds.toFixed(1)} s, peak RSS ${result.maxRssMB.toFixed(0)} MB, ${result.batches} batches, ${result.succeeded} answers` +
      (result.stages ? `, stages ${JSON.stringify(result.stages)}` : '') + ` (emulator peak RSS ${emulatorRss.toFixed(0)} MB)`);
    await rm(work, { recursive: true, force: true });
  }
}
if (results.ours && results.naive) {
  const ours = results.ours;
  const naive = results.naive;
  const s = median(naive.map((r) => r.seconds)) / median(ours.map((r) => r.seconds));
  const m = median(naive.map((r) => r.maxRssMB)) / median(ours.map((r) => r.maxRssMB));
  console.log(`ours vs the SDK flow: ${s.toFixed(2)}× as fast, ${m.toFixed(1)}× less memory (medians of ${ours.length})`);
}
