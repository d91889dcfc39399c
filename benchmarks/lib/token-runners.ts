/**
 * One contender of tokens.bench.ts per child process, so that no other
 * contender's code shares its JIT state or its heap:
 *   node token-runners.js <parse|chars4|fast|exact> <requests.jsonl> <rounds>
 * It parses the lines (not timed: the validate stage has done that already
 * when a run estimates), then times `rounds` passes over the requests, and
 * prints one JSON result line.
 */
import { readFileSync } from 'node:fs';
import { estimateRequestTokens, type Tokenizers } from '../../src/core/token-estimate.ts';
import { loadTokenizers } from '../../src/core/tokenizers.ts';
import { estimateTokens } from '../../src/core/tokens.ts';
import type { BatchRequest } from '../../src/types.ts';
import { peakRssMB } from './peak-rss.ts';

export interface TokenRunResult {
  contender: string;
  requests: number;
  bytes: number;
  /** Seconds of each pass over all the requests. */
  rounds: number[];
  /** Tokens summed over one pass (a check that the pass did its work). */
  tokens: number;
  /** Milliseconds to load the tokenizer (exact only). */
  loadMs: number;
  peakRssMB: number;
}

const [contender, input, roundsArg] = process.argv.slice(2);
const text = readFileSync(input, 'utf8');
const lines = text.split('\n').filter((line) => line.length > 0);
const bytes = Buffer.byteLength(text);

let loadMs = 0;
let tokenizers: Tokenizers = {};
if (contender === 'exact') {
  const started = performance.now();
  tokenizers = await loadTokenizers(['o200k_base', 'cl100k_base']);
  loadMs = performance.now() - started;
}

function passParse(): number {
  let n = 0;
  for (const line of lines) n += (JSON.parse(line) as BatchRequest).custom_id.length;
  return n;
}

const requests = contender === 'parse' ? [] : lines.map((line) => JSON.parse(line) as BatchRequest);

function passChars4(): number {
  let tokens = 0;
  for (const request of requests) tokens += estimateTokens({ messages: request.body.messages });
  return tokens;
}

function passFast(): number {
  let tokens = 0;
  for (const request of requests) tokens += estimateRequestTokens(request);
  return tokens;
}

function passExact(): number {
  let tokens = 0;
  for (const request of requests) tokens += estimateRequestTokens(request, { estimate: 'exact', tokenizers });
  return tokens;
}

const pass = { parse: passParse, chars4: passChars4, fast: passFast, exact: passExact }[contender];
if (pass === undefined) throw new Error(`unknown contender ${contender}`);
const rounds: number[] = [];
let tokens = 0;
for (let round = 0; round < Number(roundsArg); round++) {
  const started = performance.now();
  tokens = pass();
  rounds.push((performance.now() - started) / 1000);
}
const result: TokenRunResult = { contender, requests: lines.length, bytes, rounds, tokens, loadMs, peakRssMB: peakRssMB() };
process.stdout.write(`${JSON.stringify(result)}\n`);
