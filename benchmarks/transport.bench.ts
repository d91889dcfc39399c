/**
 * Upload and download of ~1 GB of shards against the emulator over loopback:
 * ours (uploadShards, downloadFile), a raw undici.request streaming the same
 * bytes (the transport's limit), and the SDK code users write.
 *
 *   node_modules/.bin/node benchmarks/transport.bench.ts [--mb 1140] [--shards 6] [--concurrency 4[,2,1]]
 *        [--rounds 3] [--contenders ours,raw,naive] [--sides up,down] [--state-dir DIR]
 *        [--node-flags=FLAGS] [--ours-options JSON] [--profile] [--clean]
 *
 * The emulator runs in a child process of its own (files in memory unless
 * --state-dir), and so does every contender, compiled to plain JavaScript as
 * the package ships, with V8's default flags unless --node-flags (the same
 * for every contender); its peak RSS is its own VmHWM. Contenders run in
 * turn, the order rotating each round; the table gives medians.
 * --ours-options: JSON merged into ours' options (to try settings); --profile:
 * a CPU profile of every child under data/prof/; BENCH_MEMORY_TRACE=1: each
 * contender's memory parts on stderr; --clean: the shards are deleted at the end.
 */
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compileGraph } from './lib/compile.ts';
import { ensureShards, type ShardSet } from './lib/transport-data.ts';
import { API_KEY, cpuSecondsOf, median, runChild, sha256Of, startEmulatorChild, type EmulatorChild, type RunResult } from './lib/transport-harness.ts';

const ROOT = join(import.meta.dirname, '..');
const DATA_DIR = join(import.meta.dirname, 'data');

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '1140' },
    shards: { type: 'string', default: '6' },
    concurrency: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    contenders: { type: 'string', default: 'ours,raw,naive' },
    sides: { type: 'string', default: 'up,down' },
    'state-dir': { type: 'string' },
    'node-flags': { type: 'string', default: '' },
    'ours-options': { type: 'string', default: '{}' },
    profile: { type: 'boolean', default: false },
    clean: { type: 'boolean', default: false },
  },
});
const list = (text: string) => text.split(/[\s,]+/).filter(Boolean);
const nodeFlags = list(values['node-flags']);
const childEnv = { BENCH_OURS_OPTIONS: values['ours-options'] };

/** A download job: each source file to `dir/shard-k.jsonl`. */
async function downloadJob(name: string, sources: string[]): Promise<{ job: string; dir: string }> {
  const dir = join(DATA_DIR, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const job = join(DATA_DIR, `${name}.json`);
  await writeFile(job, JSON.stringify({ files: sources.map((fileId, k) => ({ fileId, out: join(dir, `shard-${k}.jsonl`) })) }));
  return { job, dir };
}

/** Every downloaded file has its shard's size, and (when `hash`) its sha256. */
async function checkDownloads(set: ShardSet, dir: string, hash: boolean): Promise<void> {
  for (const [k, shard] of set.shards.entries()) {
    const path = join(dir, `shard-${k}.jsonl`);
    if ((await stat(path)).size !== shard.bytes) throw new Error(`${path}: not the shard's size`);
    if (hash && (await sha256Of(path)) !== shard.sha256) throw new Error(`${path}: not the shard's bytes`);
  }
}

/**
 * Uploads the shards once (the files every download reads), then one more
 * upload (deleted) and one download, unmeasured: whoever ran first against a
 * fresh emulator paid for its growing memory (2–5× the emulator's CPU time).
 */
async function setUp(runner: string, emulator: EmulatorChild, set: ShardSet, shardsJob: string): Promise<string[]> {
  const setup = await runChild(runner, ['raw', 'up', emulator.url, API_KEY, '4', shardsJob], []);
  if (setup.bytes !== set.bytes) throw new Error(`set-up upload stored ${setup.bytes} bytes of ${set.bytes}`);
  const warmup = await runChild(runner, ['raw', 'up', emulator.url, API_KEY, '4', shardsJob], []);
  await emulator.deleteFiles(warmup.fileIds);
  const { job, dir } = await downloadJob('transport-warmup', setup.fileIds);
  await runChild(runner, ['raw', 'down', emulator.url, API_KEY, '4', job], []);
  await rm(dir, { recursive: true, force: true });
  await rm(job, { force: true });
  return setup.fileIds;
}

function table(set: ShardSet, runs: Map<string, RunResult[]>): string[] {
  const rows = [
    '| side | contender | concurrency | MB/s | seconds | process wall s | × raw | peak RSS (MB) | RSS range | CPU s | emulator CPU s |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|',
  ];
  for (const [key, results] of runs) {
    const [concurrency, side, contender] = key.split(' ');
    const seconds = median(results.map((r) => r.seconds));
    const raw = runs.get(`${concurrency} ${side} raw`);
    const ratio = raw ? (median(raw.map((r) => r.seconds)) / seconds).toFixed(2) : '–';
    const rss = results.map((r) => r.maxRssMB);
    const cells = [
      side,
      contender,
      concurrency,
      (set.bytes / 1e6 / seconds).toFixed(0),
      seconds.toFixed(2),
      median(results.map((r) => r.processSeconds)).toFixed(2),
      ratio,
      median(rss).toFixed(1),
      `${Math.min(...rss).toFixed(1)}–${Math.max(...rss).toFixed(1)}`,
      median(results.map((r) => r.cpuSeconds)).toFixed(2),
      median(results.map((r) => r.emulatorCpuSeconds)).toFixed(2),
    ];
    rows.push(`| ${cells.join(' | ')} |`);
  }
  return rows;
}

async function main(): Promise<void> {
  const set = await ensureShards(DATA_DIR, Number(values.mb), Number(values.shards));
  const sizes = set.shards.map((s) => (s.bytes / 1e6).toFixed(1)).join(', ');
  process.stderr.write(`${set.created ? 'generated' : 'reusing'} ${set.dir}: ${set.shards.length} shards (${sizes} MB), ${set.bytes} bytes\n`);
  const compiled = join(DATA_DIR, 'js');
  const runner = await compileGraph(join(import.meta.dirname, 'lib/transport-runners.ts'), ROOT, compiled);
  const emulatorScript = await compileGraph(join(import.meta.dirname, 'lib/transport-emulator.ts'), ROOT, compiled);
  const profileFlags = (name: string) => (values.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(DATA_DIR, 'prof', name)}`] : []);
  const emulator = await startEmulatorChild(emulatorScript, values['state-dir'], profileFlags('emulator'));
  const shardsJob = join(DATA_DIR, 'transport-shards.json');
  await writeFile(shardsJob, JSON.stringify({ shards: set.shards }));
  const sources = await setUp(runner, emulator, set, shardsJob);

  const contenders = list(values.contenders);
  const runs = new Map<string, RunResult[]>();
  for (const concurrency of list(values.concurrency)) {
    for (let round = 0; round < Number(values.rounds); round++) {
      const order = contenders.map((_, k) => contenders[(k + round) % contenders.length]);
      for (const side of list(values.sides)) {
        for (const contender of order) {
          const download = side === 'down' ? await downloadJob(`transport-down-${contender}`, sources) : undefined;
          await emulator.collect();
          const emulatorCpu = await cpuSecondsOf(emulator.pid);
          const flags = [...nodeFlags, ...profileFlags(`${contender}-${side}-c${concurrency}`)];
          const result = await runChild(runner, [contender, side, emulator.url, API_KEY, concurrency, download?.job ?? shardsJob], flags, childEnv);
          result.emulatorCpuSeconds = (await cpuSecondsOf(emulator.pid)) - emulatorCpu;
          if (result.bytes !== set.bytes) throw new Error(`${contender} ${side}: ${result.bytes} bytes of ${set.bytes}`);
          if (download) {
            await checkDownloads(set, download.dir, round === 0);
            await rm(download.dir, { recursive: true, force: true });
            await rm(download.job, { force: true });
          } else await emulator.deleteFiles(result.fileIds);
          const key = `${concurrency} ${side} ${contender}`;
          runs.set(key, [...(runs.get(key) ?? []), result]);
          process.stderr.write(
            `c=${concurrency} round ${round + 1} ${side} ${contender}: ${(set.bytes / 1e6 / result.seconds).toFixed(0)} MB/s, ${result.seconds.toFixed(2)} s, ` +
              `peak RSS ${result.maxRssMB.toFixed(1)} MB, CPU ${result.cpuSeconds.toFixed(2)} s, emulator CPU ${result.emulatorCpuSeconds.toFixed(2)} s\n`,
          );
        }
      }
    }
  }
  await emulator.deleteFiles(sources);
  const emulatorPeak = await emulator.stop();
  await rm(shardsJob, { force: true });
  if (values.clean) await rm(set.dir, { recursive: true, force: true });

  const where = values['state-dir'] ? `state on disk (${values['state-dir']})` : 'in memory';
  process.stdout.write(
    [
      `${set.shards.length} shards (${sizes} MB), ${(set.bytes / 1e6).toFixed(0)} MB; ${values.rounds} round(s), medians; Node ${process.version}; ` +
        `contenders' flags: ${nodeFlags.join(' ') || "V8's defaults"}; ours' options: ${values['ours-options']}; emulator ${where}, its peak RSS ${emulatorPeak.toFixed(0)} MB.`,
      '',
      ...table(set, runs),
      '',
    ].join('\n'),
  );
}

await main();
