/**
 * The token estimate (src/core/token-estimate.ts): how fast and how close.
 *
 *   node_modules/.bin/node benchmarks/tokens.bench.ts [--n 50000] [--rounds 3] [--per-class 200]
 *
 * Accuracy, in this process: chat requests of about 1.3 KB cut from sixteen
 * classes of text (benchmarks/lib/token-corpus.ts), each counted three ways —
 * 'exact' (gpt-tokenizer with the chat framing, the reference), 'fast' (the
 * calibrated character rates) and the emulator's usage (what its responder
 * reports as input tokens: chars ÷ 4 of the prompt) — for a model of each
 * vocabulary (gpt-4o-mini: o200k_base, gpt-4-turbo: cl100k_base). The exact
 * chat count is checked against gpt-tokenizer's own chat encoding first.
 *
 * Speed, each contender in its own child process (lib/token-runners.ts, types
 * stripped once): JSON.parse of the lines (what validation already pays),
 * chars ÷ 4, fast and exact, over `--n` requests of English prose and `--n` of
 * all sixteen classes mixed, `--rounds` passes each. Data goes to
 * benchmarks/data/ (git-ignored).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { countTokens as countChatO200k } from 'gpt-tokenizer/model/gpt-4o-mini';
import { planRequest } from '../src/emulator/answers/responder.ts';
import { estimateRequestTokens, type Tokenizers } from '../src/core/token-estimate.ts';
import { loadTokenizers } from '../src/core/tokenizers.ts';
import type { BatchRequest } from '../src/types.ts';
import { compileGraph } from './lib/compile.ts';
import { chatRequests, corpus } from './lib/token-corpus.ts';
import type { TokenRunResult } from './lib/token-runners.ts';

const ROOT = join(import.meta.dirname, '..');
const DATA_DIR = join(import.meta.dirname, 'data');
const LINE_BYTES = 1300;
const MODELS = { o200k_base: 'gpt-4o-mini', cl100k_base: 'gpt-4-turbo' } as const;

const { values } = parseArgs({ options: { n: { type: 'string' }, rounds: { type: 'string' }, 'per-class': { type: 'string' } } });
const throughputRequests = Number(values.n ?? 50_000);
const rounds = Number(values.rounds ?? 3);
const perClass = Number(values['per-class'] ?? 200);

const texts = corpus();
const tokenizers: Tokenizers = await loadTokenizers();

// ── accuracy ──

interface Spread {
  mean: number;
  p5: number;
  p95: number;
}

function spread(ratios: number[]): Spread {
  const sorted = [...ratios].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { mean: ratios.reduce((sum, r) => sum + r, 0) / ratios.length, p5: at(0.05), p95: at(0.95) };
}

const show = (s: Spread) => `${s.mean.toFixed(2)} (${s.p5.toFixed(2)}–${s.p95.toFixed(2)})`;

function emulatorTokens(request: BatchRequest): number {
  return planRequest(request.url, request.custom_id, 1, request.body, { seed: 0, errorRate: 0 }).inputTokens;
}

function exactTokens(request: BatchRequest): number {
  return estimateRequestTokens(request, { estimate: 'exact', tokenizers });
}

// The reference first: our exact count of a chat request against gpt-tokenizer's own chat encoding.
let checked = 0;
let agreed = 0;
for (const text of Object.values(texts)) {
  for (const request of chatRequests(text, 20, MODELS.o200k_base, LINE_BYTES, 997)) {
    checked++;
    const messages = request.body.messages as Array<{ role: 'system' | 'user'; content: string }>;
    if (exactTokens(request) === countChatO200k(messages)) agreed++;
  }
}
console.log(`exact chat count = gpt-tokenizer's countTokens(chat) for gpt-4o-mini on ${agreed} of ${checked} requests\n`);

interface ClassRow {
  name: string;
  exactMean: Record<string, number>;
  fast: Record<string, Spread>;
  emulator: Record<string, Spread>;
  fastVsEmulator: Spread;
}

const rows: ClassRow[] = [];
for (const [name, text] of Object.entries(texts)) {
  const row: ClassRow = { name, exactMean: {}, fast: {}, emulator: {}, fastVsEmulator: { mean: 0, p5: 0, p95: 0 } };
  for (const [encoding, model] of Object.entries(MODELS)) {
    const step = Math.max(1, Math.floor((text.length - LINE_BYTES) / perClass));
    const requests = chatRequests(text, perClass, model, LINE_BYTES, step);
    const fast: number[] = [];
    const emulator: number[] = [];
    const fastVsEmulator: number[] = [];
    let exactSum = 0;
    for (const request of requests) {
      const exact = exactTokens(request);
      const estimate = estimateRequestTokens(request);
      const usage = emulatorTokens(request);
      exactSum += exact;
      fast.push(estimate / exact);
      emulator.push(usage / exact);
      fastVsEmulator.push(estimate / usage);
    }
    row.exactMean[encoding] = exactSum / requests.length;
    row.fast[encoding] = spread(fast);
    row.emulator[encoding] = spread(emulator);
    if (encoding === 'o200k_base') row.fastVsEmulator = spread(fastVsEmulator);
  }
  rows.push(row);
}

console.log(`Accuracy: ${perClass} chat requests of ~${LINE_BYTES} B per class; ratio to the exact count, mean (p5–p95)\n`);
console.log('| text | exact tokens/request (o200k) | fast ÷ exact, o200k | emulator ÷ exact, o200k | fast ÷ exact, cl100k | emulator ÷ exact, cl100k | fast ÷ emulator |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const row of rows) {
  console.log(
    `| ${row.name} | ${row.exactMean.o200k_base.toFixed(0)} | ${show(row.fast.o200k_base)} | ${show(row.emulator.o200k_base)} | ` +
      `${show(row.fast.cl100k_base)} | ${show(row.emulator.cl100k_base)} | ${row.fastVsEmulator.mean.toFixed(2)} |`,
  );
}
const meanAbsError = (pick: (row: ClassRow) => Spread) => rows.reduce((sum, row) => sum + Math.abs(pick(row).mean - 1), 0) / rows.length;
console.log(
  `\nMean |error| over the classes — o200k: fast ${(100 * meanAbsError((r) => r.fast.o200k_base)).toFixed(1)} %, emulator ${(100 * meanAbsError((r) => r.emulator.o200k_base)).toFixed(1)} %; ` +
    `cl100k: fast ${(100 * meanAbsError((r) => r.fast.cl100k_base)).toFixed(1)} %, emulator ${(100 * meanAbsError((r) => r.emulator.cl100k_base)).toFixed(1)} %\n`,
);

// The other endpoints, on English prose.
const prose = texts['English prose'];
function endpointRequests(kind: string): BatchRequest[] {
  return chatRequests(prose, perClass, MODELS.o200k_base, LINE_BYTES, Math.floor((prose.length - LINE_BYTES) / perClass)).map((chat) => {
    const [system, user] = (chat.body.messages as Array<{ content: string }>).map((m) => m.content);
    const model = kind === 'embeddings' ? 'text-embedding-3-small' : MODELS.o200k_base;
    const quarter = Math.floor(user.length / 4);
    const bodies: Record<string, BatchRequest['body']> = {
      responses: { model, instructions: system, input: user },
      completions: { model, prompt: `${system}\n\n${user}` },
      embeddings: { model, input: [0, 1, 2, 3].map((i) => user.slice(i * quarter, (i + 1) * quarter)) },
    };
    return { ...chat, url: `/v1/${kind}` as BatchRequest['url'], body: bodies[kind] };
  });
}
console.log('| endpoint (English prose) | exact tokens/request | fast ÷ exact | emulator ÷ exact |');
console.log('|---|---:|---:|---:|');
for (const kind of ['responses', 'completions', 'embeddings']) {
  const requests = endpointRequests(kind);
  const exact = requests.map(exactTokens);
  const fast = spread(requests.map((r, i) => estimateRequestTokens(r) / exact[i]));
  const emulator = spread(requests.map((r, i) => emulatorTokens(r) / exact[i]));
  console.log(`| /v1/${kind} | ${(exact.reduce((a, b) => a + b) / exact.length).toFixed(0)} | ${show(fast)} | ${show(emulator)} |`);
}

// ── speed ──

mkdirSync(DATA_DIR, { recursive: true });
function writeRequests(file: string, requests: BatchRequest[]): string {
  const path = join(DATA_DIR, file);
  writeFileSync(path, requests.map((request) => `${JSON.stringify(request)}\n`).join(''));
  return path;
}
const proseFile = writeRequests('tokens-prose.jsonl', chatRequests(prose, throughputRequests, MODELS.o200k_base, LINE_BYTES, 7));
const classTexts = Object.values(texts);
const perText = Math.ceil(throughputRequests / classTexts.length);
const mixed = classTexts.flatMap((text, i) => chatRequests(text, perText, MODELS.o200k_base, LINE_BYTES, 5, i * perText)).slice(0, throughputRequests);
const mixedFile = writeRequests('tokens-mixed.jsonl', mixed);

const runner = await compileGraph(join(import.meta.dirname, 'lib', 'token-runners.ts'), ROOT, join(DATA_DIR, 'tokens-build'));

function run(contender: string, input: string): Promise<TokenRunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [runner, contender, input, String(rounds)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as TokenRunResult) : reject(new Error(`${contender} exited ${code}`))));
  });
}

const LABELS: Record<string, string> = {
  parse: 'JSON.parse of the lines (what validation already pays)',
  chars4: 'chars ÷ 4 (`estimateTokens`, the emulator\'s count)',
  fast: "`estimateRequestTokens` 'fast'",
  exact: "`estimateRequestTokens` 'exact' (gpt-tokenizer)",
};
for (const [name, file] of [['English prose', proseFile], ['all sixteen classes', mixedFile]]) {
  console.log(`\nSpeed: ${throughputRequests.toLocaleString('en')} chat requests, ${name}; best of ${rounds} passes (first pass in brackets)\n`);
  console.log('| contender | MB/s of request JSON | µs a request (= s per 1,000,000 requests) | load (ms) | peak RSS (MB) |');
  console.log('|---|---:|---:|---:|---:|');
  for (const contender of ['parse', 'chars4', 'fast', 'exact']) {
    const result = await run(contender, file);
    const best = Math.min(...result.rounds);
    const perRequest = (seconds: number) => (seconds / result.requests) * 1e6;
    console.log(
      `| ${LABELS[contender]} | ${(result.bytes / 1e6 / best).toFixed(0)} | ${perRequest(best).toFixed(2)} (${perRequest(result.rounds[0]).toFixed(2)}) | ` +
        `${result.loadMs > 0 ? result.loadMs.toFixed(0) : '—'} | ${result.peakRssMB.toFixed(0)} |`,
    );
  }
}
