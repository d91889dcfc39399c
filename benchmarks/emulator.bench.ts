/**
 * The emulator's own cost per batch of 50,000 chat requests (~1.3 KB each,
 * ~65 MB): upload (Uploads API parts, md5 at complete), the batch (input
 * check, plans, result files), and the download of its output file.
 *
 *   node_modules/.bin/node benchmarks/emulator.bench.ts [--batches 3] [--requests 50000] [--line-bytes 1300]
 *        [--duration-ms 1000] [--state-dir] [--keep-files] [--baseline COMMIT] [--contenders now,baseline]
 *        [--profile] [--node-flags=FLAGS]
 *
 * Each contender is `batchline emulator --port 0` in a child process of its
 * own: `now` runs this checkout's src/, `baseline` the src/ of COMMIT (default
 * the commit before the emulator's fast paths), extracted with `git archive`
 * under benchmarks/data/. The driver (this process) uploads the same shard,
 * creates the batch, polls it and downloads its files with batchline's own
 * client, one batch at a time; the emulator's CPU seconds are read from
 * /proc/<pid>/stat before and after each phase, its peak RSS from VmHWM.
 * --state-dir: the emulator keeps its files on disk (a fresh temp directory);
 * --keep-files: the uploaded inputs stay in the emulator (by default each is deleted after its batch), so
 * that the store holds batches × ~65 MB by the end, as a run's does;
 * --profile: a CPU profile of every emulator child under benchmarks/data/prof/; --node-flags: V8 flags for
 * the emulator children (their other stdout lines, --trace-gc's say, go to BENCH_EMULATOR_LOG when set).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { seededRandom } from '../src/core/seeded-random.ts';
import { describeFile } from '../src/io/file-digest.ts';
import { ApiClient } from '../src/openai/client.ts';
import { waitForBatch } from '../src/openai/poll.ts';
import { downloadFile } from '../src/openai/results.ts';
import { uploadShards } from '../src/streams/upload.ts';
import type { ShardDescriptor } from '../src/types.ts';
import { cpuSecondsOf, median } from './lib/transport-harness.ts';
import { requestLine } from './lib/requests-data.ts';

const ROOT = join(import.meta.dirname, '..');
const DATA_DIR = join(import.meta.dirname, 'data');
/** The last commit before the emulator's fast paths: what `baseline` runs unless --baseline names another. */
const DEFAULT_BASELINE = '5a8360b';
const API_KEY = 'bench-key';

const { values } = parseArgs({
  options: {
    batches: { type: 'string', default: '3' },
    requests: { type: 'string', default: '50000' },
    'line-bytes': { type: 'string', default: '1300' },
    'duration-ms': { type: 'string', default: '1000' },
    'state-dir': { type: 'boolean', default: false },
    'keep-files': { type: 'boolean', default: false },
    baseline: { type: 'string', default: DEFAULT_BASELINE },
    contenders: { type: 'string', default: 'now,baseline' },
    profile: { type: 'boolean', default: false },
    'node-flags': { type: 'string', default: '' },
  },
});
const batches = Number(values.batches);
const requests = Number(values.requests);
const lineBytes = Number(values['line-bytes']);
const durationMs = Number(values['duration-ms']);

/** The shard every batch sends: `requests` generated chat requests of about `lineBytes` bytes, made once. */
async function ensureShard(): Promise<ShardDescriptor> {
  const path = join(DATA_DIR, `emulator-${requests}x${lineBytes}.jsonl`);
  const present = await stat(path).catch(() => undefined);
  if (!present) {
    await mkdir(DATA_DIR, { recursive: true });
    const random = seededRandom(20_250_101);
    const spread = Math.round(lineBytes * 0.2);
    const lines: string[] = [];
    for (let i = 0; i < requests; i++) lines.push(requestLine(random, i, { min: lineBytes - spread / 2, spread }));
    await writeFile(path, `${lines.join('\n')}\n`);
  }
  return describeFile(path, 0);
}

/** The src/ tree a contender runs: this checkout's, or the baseline commit's extracted under benchmarks/data/. */
function entryOf(contender: string): string {
  if (contender === 'now') return join(ROOT, 'src/cli/entry.ts');
  const dir = join(DATA_DIR, `baseline-${values.baseline}`);
  execFileSync('sh', ['-c', `rm -rf "${dir}" && mkdir -p "${dir}" && git -C "${ROOT}" archive "${values.baseline}" src | tar -x -C "${dir}"`]);
  return join(dir, 'src/cli/entry.ts');
}

interface EmulatorProcess {
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

async function startEmulator(contender: string, stateDir: string | undefined): Promise<EmulatorProcess> {
  const flags = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(DATA_DIR, 'prof')}`, `--cpu-prof-name=emulator-${contender}-${Date.now()}.cpuprofile`] : [];
  const args = [...flags, ...values['node-flags'].split(/\s+/).filter(Boolean), entryOf(contender), 'emulator', '--port', '0', '--api-key', API_KEY, '--batch-duration-ms', String(durationMs)];
  if (stateDir) args.push('--state-dir', stateDir);
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  // Lines other than the one with the URL (V8's --trace-gc, say) go on to BENCH_EMULATOR_LOG or nowhere.
  const log = process.env.BENCH_EMULATOR_LOG ? createWriteStream(process.env.BENCH_EMULATOR_LOG) : undefined;
  const url = await new Promise<string | undefined>((resolve) => {
    createInterface({ input: proc.stdout! })
      .on('line', (line) => {
        const match = /listening on (\S+)\/v1/.exec(line);
        if (match) resolve(match[1]);
        else log?.write(`${line}\n`);
      })
      .on('close', () => resolve(undefined));
  });
  if (!url) throw new Error(`${contender}: the emulator did not start`);
  return {
    url,
    proc,
    stop: () =>
      new Promise((resolve) => {
        proc.once('close', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

async function statusOf(pid: number): Promise<{ hwmMB: number; rssMB: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? NaN);
  return { hwmMB: kb('VmHWM') / 1024, rssMB: kb('VmRSS') / 1024 };
}

interface BatchRun {
  /** The driver's own CPU seconds over the whole batch: batchline's client uploading, polling and downloading. */
  clientCpu: number;
  uploadCpu: number;
  batchCpu: number;
  downloadCpu: number;
  uploadSeconds: number;
  batchSeconds: number;
  downloadSeconds: number;
  outputBytes: number;
}

async function runBatch(emulator: EmulatorProcess, client: ApiClient, shard: ShardDescriptor, outDir: string, k: number): Promise<BatchRun> {
  const pid = emulator.proc.pid!;
  const client0 = process.cpuUsage();
  const cpu0 = await cpuSecondsOf(pid);
  const t0 = performance.now();
  let fileId = '';
  for await (const uploaded of uploadShards([shard], { client })) fileId = uploaded.fileId;
  const cpu1 = await cpuSecondsOf(pid);
  const t1 = performance.now();
  const created = await client.call({ operation: 'create batch' }, ({ options }) =>
    client.sdk.batches.create({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' }, options),
  );
  const batch = await waitForBatch(client, created.id, { initialDelayMs: 50, maxDelayMs: 100, multiplier: 1, maxRequestsPerSecond: 50 });
  if (batch.status !== 'completed') throw new Error(`batch ${batch.id} ended ${batch.status}`);
  const cpu2 = await cpuSecondsOf(pid);
  const t2 = performance.now();
  let outputBytes = 0;
  for (const [kind, id] of [['output', batch.output_file_id], ['error', batch.error_file_id]] as const) {
    if (!id) continue;
    const saved = await downloadFile(client, id, join(outDir, `batch-${k}-${kind}.jsonl`));
    outputBytes += saved.bytes;
  }
  const cpu3 = await cpuSecondsOf(pid);
  const t3 = performance.now();
  const clientUsage = process.cpuUsage(client0);
  if (!values['keep-files']) await client.call({ operation: 'delete file' }, ({ options }) => client.sdk.files.delete(fileId, options));
  return {
    clientCpu: (clientUsage.user + clientUsage.system) / 1e6,
    uploadCpu: cpu1 - cpu0,
    batchCpu: cpu2 - cpu1,
    downloadCpu: cpu3 - cpu2,
    uploadSeconds: (t1 - t0) / 1000,
    batchSeconds: (t2 - t1) / 1000,
    downloadSeconds: (t3 - t2) / 1000,
    outputBytes,
  };
}

const shard = await ensureShard();
console.log(`shard: ${shard.requests} requests, ${(shard.bytes / 1e6).toFixed(1)} MB; ${batches} batches per contender, batch duration ${durationMs} ms`);
const rows: string[] = [];
for (const contender of values.contenders.split(',')) {
  const stateDir = values['state-dir'] ? await mkdtemp(join(tmpdir(), `batchline-emulator-bench-${contender}-`)) : undefined;
  const outDir = await mkdtemp(join(tmpdir(), 'batchline-emulator-bench-out-'));
  const emulator = await startEmulator(contender, stateDir);
  const client = new ApiClient({ apiKey: API_KEY, baseURL: `${emulator.url}/v1` });
  const runs: BatchRun[] = [];
  try {
    for (let k = 0; k < batches; k++) {
      const run = await runBatch(emulator, client, shard, outDir, k);
      runs.push(run);
      const { rssMB } = await statusOf(emulator.proc.pid!);
      console.log(
        `${contender} batch ${k + 1}: emulator CPU s upload ${run.uploadCpu.toFixed(2)}, batch ${run.batchCpu.toFixed(2)}, download ${run.downloadCpu.toFixed(2)}; ` +
          `wall s ${run.uploadSeconds.toFixed(2)} / ${run.batchSeconds.toFixed(2)} / ${run.downloadSeconds.toFixed(2)}; result ${(run.outputBytes / 1e6).toFixed(1)} MB; ` +
          `client CPU s ${run.clientCpu.toFixed(2)}; RSS ${rssMB.toFixed(0)} MB`,
      );
    }
    const { hwmMB } = await statusOf(emulator.proc.pid!);
    const m = (pick: (run: BatchRun) => number) => median(runs.map(pick)).toFixed(2);
    rows.push(
      `| ${contender} | ${m((r) => r.uploadCpu)} | ${m((r) => r.batchCpu)} | ${m((r) => r.downloadCpu)} | ${m((r) => r.uploadCpu + r.batchCpu + r.downloadCpu)} | ` +
        `${m((r) => r.batchSeconds)} | ${hwmMB.toFixed(0)} |`,
    );
  } finally {
    await emulator.stop();
    await rm(outDir, { recursive: true, force: true });
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  }
}
console.log('\n| contender | upload CPU s | batch CPU s | download CPU s | total CPU s | batch wall s | peak RSS MB |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const row of rows) console.log(row);
