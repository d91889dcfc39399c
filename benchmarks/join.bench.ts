/**
 * The join at scale, against the obvious approach (every result line into a
 * Map, then walk the input), each in its own child process for a clean peak
 * RSS (VmHWM: see lib/peak-rss.ts). Both write the same JSONL; the run checks
 * the two files are identical.
 *
 *   node benchmarks/join.bench.ts                 100 k and 1 M, both approaches
 *   node benchmarks/join.bench.ts --n 5000000 --ours-only [--clean]
 *   add --ts to run the TypeScript sources instead of a compiled build
 *
 * Data goes to benchmarks/data/ (git-ignored) and is reused between runs;
 * --clean deletes it afterwards.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { checkJoined, joinData } from './lib/join-data.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: { n: { type: 'string', multiple: true }, 'ours-only': { type: 'boolean' }, clean: { type: 'boolean' }, ts: { type: 'boolean' } },
});
const sizes = values.n ? values.n.map(Number) : [100_000, 1_000_000];
const root = join(here, 'data');

/**
 * The package ships compiled JavaScript (bin/ runs dist/), so the runners are
 * compiled the same way: running .ts directly would add the type stripper's
 * own memory (≈ 30 MB) to every peak RSS. --ts skips the build.
 */
function buildRunner(): string {
  if (values.ts) return join(here, 'lib', 'join-runners.ts');
  const config = join(root, 'tsconfig.join-bench.json');
  mkdirSync(root, { recursive: true });
  writeFileSync(
    config,
    JSON.stringify({
      extends: '../../tsconfig.build.json',
      compilerOptions: { rootDir: '../..', outDir: 'build', declaration: false, sourceMap: false, noEmitOnError: false },
      include: ['../../src', '../lib/join-runners.ts', '../lib/peak-on-exit.ts'],
    }),
  );
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  // Type errors elsewhere in the tree do not stop the emit; the join's own files typecheck.
  spawnSync(process.execPath, [tsc, '-p', config], { stdio: 'ignore' });
  const built = join(root, 'build', 'benchmarks', 'lib', 'join-runners.js');
  if (!existsSync(built)) throw new Error(`the runner did not build (${built}); try --ts`);
  return built;
}
const runner = buildRunner();
const built = values.ts ? join(here, '..') : join(root, 'build');
const cliEntry = join(built, 'src', 'cli', values.ts ? 'entry.ts' : 'entry.js');
const peakHook = pathToFileURL(join(built, 'benchmarks', 'lib', values.ts ? 'peak-on-exit.ts' : 'peak-on-exit.js')).href;

interface Run {
  ms: number;
  maxRssMB: number;
  requests: number;
}

function child(mode: 'ours' | 'naive' | 'cli', flags: string[], output: string, input: string, results: string[], tempDir: string): Promise<Run> {
  // `batchline join` is the child's main module, as with bin/batchline.js; a preload records its peak on exit.
  const resultFile = join(root, 'result-cli.json');
  const args =
    mode === 'cli'
      ? [...flags, '--import', peakHook, cliEntry, 'join', input, ...results, '-o', output, '--temp-dir', tempDir]
      : [...flags, runner, mode, output, input, ...results];
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, JOIN_TEMP_DIR: tempDir, BENCH_RESULT: resultFile },
    });
    let out = '';
    proc.stdout.on('data', (chunk) => (out += chunk));
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (mode !== 'cli') return code === 0 ? resolve(JSON.parse(out) as Run) : reject(new Error(`${mode} exited ${code}`));
      // Exit 1 says that some requests have no result, as the data intends; the output is checked line by line.
      if (code !== 0 && code !== 1) return reject(new Error(`batchline join exited ${code}`));
      const run = JSON.parse(readFileSync(resultFile, 'utf8')) as { seconds: number; maxRssMB: number };
      resolve({ ms: Math.round(run.seconds * 1000), maxRssMB: Math.round(run.maxRssMB), requests: -1 });
    });
  });
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const CAPPED_HEAP = ['--max-semi-space-size=2', '--max-old-space-size=64'];
const rows: string[] = [];
process.stderr.write(`node ${process.version}, ${cpus().length} cpus (${cpus()[0]?.model}), ${Math.round(totalmem() / 2 ** 30)} GiB\n`);
for (const n of sizes) {
  const started = performance.now();
  const data = joinData(root, n);
  const resultBytes = data.results.reduce((sum, path) => sum + statSync(path).size, 0);
  process.stderr.write(`n=${n}: data ready in ${((performance.now() - started) / 1000).toFixed(1)} s (${(resultBytes / 2 ** 20).toFixed(0)} MiB of results)\n`);
  const tempDir = join(root, 'tmp');
  mkdirSync(tempDir, { recursive: true });
  const oursOut = join(data.dir, 'joined-ours.jsonl');
  const ours = await child('ours', [], oursOut, data.input, data.results, tempDir);
  process.stderr.write(`  ours:  ${JSON.stringify(ours)}\n`);
  // Every line checked against the generated truth: order, line number, status.
  const counts = await checkJoined(oursOut, n);
  process.stderr.write(`  ours checked line by line: ${JSON.stringify(counts)}\n`);
  // With V8's defaults most of our peak is the young generation (Node 24 lets
  // it grow to 128 MB under a high allocation rate), not data we hold: the
  // live heap stays under 10 MB. A capped heap shows what the join needs; the
  // naive join could not run under such a cap.
  const capped = await child('ours', CAPPED_HEAP, oursOut, data.input, data.results, tempDir);
  process.stderr.write(`  ours, ${CAPPED_HEAP.join(' ')}:  ${JSON.stringify(capped)}\n`);
  // `batchline join` as the binary runs it: default flags, then the CLI's own young-generation setting.
  const cli = await child('cli', [], oursOut, data.input, data.results, tempDir);
  process.stderr.write(`  batchline join:  ${JSON.stringify(cli)}\n`);
  process.stderr.write(`  batchline join output checked line by line: ${JSON.stringify(await checkJoined(oursOut, n))}\n`);
  let naiveCells = '— | —';
  let same = '—';
  if (!values['ours-only']) {
    const naiveOut = join(data.dir, 'joined-naive.jsonl');
    // The naive join keeps every result on the heap; give it room to show how far it grows.
    const naive = await child('naive', ['--max-old-space-size=16384'], naiveOut, data.input, data.results, tempDir);
    process.stderr.write(`  naive: ${JSON.stringify(naive)}\n`);
    same = (await sha256(oursOut)) === (await sha256(naiveOut)) ? 'identical' : 'DIFFERENT';
    rmSync(naiveOut, { force: true });
    naiveCells = `${(naive.ms / 1000).toFixed(1)} s | ${naive.maxRssMB} MB`;
    if (same !== 'identical') process.exitCode = 1;
  }
  rmSync(oursOut, { force: true });
  const perSecond = Math.round((n / ours.ms) * 1000).toLocaleString('en-US');
  rows.push(
    `| ${n.toLocaleString('en-US')} | ${(resultBytes / 2 ** 20).toFixed(0)} MiB | ${(ours.ms / 1000).toFixed(1)} s | ${perSecond}/s | ` +
      `${ours.maxRssMB} MB | ${(capped.ms / 1000).toFixed(1)} s | ${capped.maxRssMB} MB | ${(cli.ms / 1000).toFixed(1)} s | ${cli.maxRssMB} MB | ${naiveCells} | ${same} |`,
  );
  if (values.clean) rmSync(data.dir, { recursive: true, force: true });
}
process.stdout.write(
  '| requests | result bytes | ours: time | ours: requests/s | ours: peak RSS | ours, heap capped: time | peak RSS | batchline join: time | peak RSS | naive: time | naive: peak RSS | outputs |\n' +
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n' +
    rows.join('\n') +
    '\n',
);
