/**
 * Fuzzing the public stages with random and mutated input. Each run either
 * succeeds with every request exactly once (in the shards, or in the join's
 * output), or fails with a coded BatchlineError, and leaves no half-written
 * shard file or join temp directory behind. Whether a line is valid is decided
 * here independently (JSON.parse and the Batch API's rules), not by asking the
 * stages, so a line that is silently dropped or let through is caught too.
 */
import t from 'tap';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  BatchlineError,
  SUPPORTED_ENDPOINTS,
  createParser,
  createSharder,
  createValidator,
  joinResults,
  parseFile,
  parseResultLine,
  parseSource,
  resultStatus,
  type JoinError,
  type JoinedResult,
  type ShardDescriptor,
} from '../src/index.ts';

const CODE = /^[A-Z][A-Z0-9_]+$/;

/** Codes that are about one line, so the error must say which. */
const PER_LINE_CODES = new Set([
  'LINE_TOO_LARGE',
  'INVALID_JSON',
  'INVALID_REQUEST',
  'MISSING_CUSTOM_ID',
  'INVALID_CUSTOM_ID',
  'DUPLICATE_CUSTOM_ID',
  'INVALID_METHOD',
  'UNSUPPORTED_ENDPOINT',
  'MIXED_ENDPOINTS',
  'INVALID_BODY',
  'MISSING_MODEL',
  'MISSING_BODY_FIELD',
  'REQUEST_TOO_LARGE',
  'INVALID_RESULT_LINE',
  'UNKNOWN_CUSTOM_ID',
  'CONFLICTING_RESULT',
  'DUPLICATE_RESULT',
]);

/** A one-line failure message for fast-check's report. */
function coded(err: unknown): string | undefined {
  if (!(err instanceof BatchlineError)) return `not a BatchlineError: ${String((err as Error)?.stack ?? err)}`;
  if (typeof err.code !== 'string' || !CODE.test(err.code)) return `bad code ${String(err.code)}`;
  if (PER_LINE_CODES.has(err.code) && !(typeof err.line === 'number' && Number.isInteger(err.line) && err.line >= 1)) {
    return `${err.code} without a line: ${err.message}`;
  }
  return undefined;
}

function scratchRoot(t: { teardown(fn: () => void): void }, prefix: string): string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

/** Bytes cut every `size` bytes, so that lines, BOMs, CRLFs and UTF-8 sequences are split anywhere. */
function chunks(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

// ---------------------------------------------------------------- inputs

const IDS = ['a', 'b', 'c', 'd', 'é', '日本', '🙂', ' ', 'x"y', 'back\\slash', '\ud800', '\udc00', 'a\u0000b', 'id-1', 'id-2', 'id-3'];
const MODELS = ['m1', 'm2', 'gpt-4o-mini'];
const ENDPOINTS = ['/v1/chat/completions', '/v1/embeddings'] as const;

const idArb = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...IDS) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) });

/** A request as the Batch API wants it; `raw` and `unicode` vary how the same value is written. */
const requestArb = fc
  .record({
    id: idArb,
    model: fc.constantFrom(...MODELS),
    url: fc.constantFrom(...ENDPOINTS),
    content: fc.string({ unit: 'grapheme', maxLength: 12 }),
    escapeAll: fc.boolean(),
  })
  .map(({ id, model, url, content, escapeAll }) => {
    const body = url === '/v1/chat/completions' ? { model, messages: [{ role: 'user', content }] } : { model, input: content };
    const text = JSON.stringify({ custom_id: id, method: 'POST', url, body });
    return escapeAll ? text.replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`) : text;
  });

/** Whole values that break one rule or another, written as JSON. */
const junkArb = fc.constantFrom(
  '[]',
  '[1,2,3]',
  'null',
  '42',
  '"a string"',
  'true',
  '{}',
  '{"custom_id":7,"method":"POST","url":"/v1/embeddings","body":{"model":"m1","input":"x"}}',
  '{"custom_id":"","method":"POST","url":"/v1/embeddings","body":{"model":"m1","input":"x"}}',
  '{"custom_id":null,"method":"POST","url":"/v1/embeddings","body":{"model":"m1","input":"x"}}',
  '{"custom_id":"w1","method":"GET","url":"/v1/embeddings","body":{"model":"m1","input":"x"}}',
  '{"custom_id":"w2","method":"POST","url":"/v1/nope","body":{"model":"m1","input":"x"}}',
  '{"custom_id":"w3","method":"POST","url":"/v1/embeddings","body":[]}',
  '{"custom_id":"w4","method":"POST","url":"/v1/embeddings","body":{"model":5,"input":"x"}}',
  '{"custom_id":"w5","method":"POST","url":"/v1/chat/completions","body":{"model":"m1","messages":"hi"}}',
  '{"custom_id":"w6","method":"POST","url":"/v1/embeddings","body":{"model":"m1","input":null}}',
  '{"custom_id":"big","method":"POST","url":"/v1/embeddings","body":{"model":"m1","input":1e400,"n":123456789012345678901234567890}}',
  '{"custom_id":"neg","method":"POST","url":"/v1/embeddings","body":{"model":"m1","input":-0.0e-999}}',
  `{"custom_id":"deep","method":"POST","url":"/v1/embeddings","body":{"model":"m1","input":${'['.repeat(60)}${']'.repeat(60)}}}`,
  `{"custom_id":"deeper","method":"POST","url":"/v1/embeddings","body":{"model":"m1","input":${'['.repeat(5000)}${']'.repeat(5000)}}}`,
  '{"custom_id":"esc\\q","method":"POST","url":"/v1/embeddings","body":{"model":"m1","input":"x"}}',
  '{"custom_id":"u\\u12","method":"POST","url":"/v1/embeddings","body":{"model":"m1","input":"x"}}',
  '{"custom_id":"tab\there","method":"POST","url":"/v1/embeddings","body":{"model":"m1","input":"x"}}',
  '{"custom_id":"nested","method":"POST","url":"/v1/embeddings","body":{"model":"m1","input":{"a":[{"b":{"c":[null,true,false,{}]}}]}}}',
  '{"custom_id":"trail","method":"POST","url":"/v1/embeddings","body":{"model":"m1","input":"x"}} x',
  '{"custom_id":"comma","method":"POST","url":"/v1/embeddings","body":{"model":"m1","input":"x"},}',
  '{"\\u0063ustom_id":"keyesc","method":"POST","url":"/v1/embeddings","body":{"model":"m1","input":"x"}}',
  '{"custom_id":"dk1","method":"POST","custom_id":"dk2","url":"/v1/embeddings","body":{"model":"m1","input":"x"}}',
  '  ',
  '\t',
);

/** A byte-level mutation of a line: where and what is decided by the numbers. */
type Mutation = { kind: 'truncate' | 'insert' | 'replace' | 'delete'; at: number; byte: number };
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('truncate', 'insert', 'replace', 'delete'),
  at: fc.nat(),
  byte: fc.constantFrom(0x22, 0x5c, 0x7b, 0x7d, 0x2c, 0x3a, 0x00, 0x0d, 0x80, 0xc3, 0xe6, 0xf0, 0xff, 0xfe, 0x20, 0x31),
});

function mutate(line: Buffer, m: Mutation): Buffer {
  if (line.length === 0) return line;
  const at = m.at % line.length;
  switch (m.kind) {
    case 'truncate':
      return line.subarray(0, at);
    case 'insert':
      return Buffer.concat([line.subarray(0, at), Buffer.of(m.byte), line.subarray(at)]);
    case 'replace': {
      const out = Buffer.from(line);
      out[at] = m.byte;
      return out;
    }
    case 'delete':
      return Buffer.concat([line.subarray(0, at), line.subarray(at + 1)]);
  }
}

/** One input line: a request, a copy of an earlier one (a duplicate id), junk, a mutated request, or nothing. */
const lineArb: fc.Arbitrary<{ kind: 'request' | 'repeat' | 'junk' | 'mutated' | 'blank'; text?: string; mutation?: Mutation; of?: number }> =
  fc.oneof(
    { weight: 8, arbitrary: requestArb.map((text) => ({ kind: 'request' as const, text })) },
    { weight: 1, arbitrary: fc.nat().map((of) => ({ kind: 'repeat' as const, of })) },
    { weight: 2, arbitrary: junkArb.map((text) => ({ kind: 'junk' as const, text })) },
    { weight: 2, arbitrary: fc.tuple(requestArb, mutationArb).map(([text, mutation]) => ({ kind: 'mutated' as const, text, mutation })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'blank' as const }) },
  );

/** Builds the input's lines as bytes (without breaks). */
function inputLines(items: Array<{ kind: string; text?: string; mutation?: Mutation; of?: number }>): Buffer[] {
  const lines: Buffer[] = [];
  for (const item of items) {
    if (item.kind === 'blank') lines.push(Buffer.alloc(0));
    else if (item.kind === 'repeat') lines.push(lines.length ? lines[(item.of as number) % lines.length] : Buffer.from('{}'));
    else if (item.kind === 'mutated') lines.push(mutate(Buffer.from(item.text as string), item.mutation as Mutation));
    else lines.push(Buffer.from(item.text as string));
  }
  return lines;
}

/** The valid requests among `items`, each custom_id once, and the blank lines. */
function cleanItems<T extends { kind: string; text?: string }>(items: T[]): T[] {
  const ids = new Set<string>();
  return items.filter((item) => {
    if (item.kind === 'blank') return true;
    if (item.kind !== 'request') return false;
    const id = (JSON.parse(item.text as string) as { custom_id: string }).custom_id;
    if (ids.has(id)) return false;
    ids.add(id);
    return true;
  });
}

/** JSONL text: LF or CRLF breaks, maybe a BOM, maybe a final break. */
function assemble(lines: Buffer[], crlf: boolean, bom: boolean, finalBreak: boolean): Buffer {
  const parts: Buffer[] = [];
  if (bom) parts.push(Buffer.of(0xef, 0xbb, 0xbf));
  lines.forEach((line, i) => {
    parts.push(line);
    if (i < lines.length - 1 || finalBreak) parts.push(Buffer.from(crlf ? '\r\n' : '\n'));
  });
  return Buffer.concat(parts);
}

/** The line as the stages see it: BOM (line 1) and the CR of a CRLF gone; `crlf` when a CRLF follows it. */
function lineText(line: Buffer, index: number, crlf: boolean, bom: boolean): Buffer {
  let bytes = line;
  if (index === 0 && bom) bytes = Buffer.concat([Buffer.of(0xef, 0xbb, 0xbf), bytes]);
  if (crlf) bytes = Buffer.concat([bytes, Buffer.of(0x0d)]);
  if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, -1);
  if (index === 0 && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
  return bytes;
}

function isBlank(bytes: Buffer): boolean {
  return /^[ \t\r\n]*$/.test(bytes.toString('latin1'));
}

function plainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The Batch API's per-line rules, written out again here: true when `value` is a valid request. */
function isValidRequest(value: unknown): value is { custom_id: string; url: string; body: { model: string } } {
  if (!plainObject(value)) return false;
  if (typeof value.custom_id !== 'string' || value.custom_id === '') return false;
  if (value.method !== 'POST') return false;
  if (!(SUPPORTED_ENDPOINTS as readonly unknown[]).includes(value.url)) return false;
  const body = value.body;
  if (!plainObject(body) || typeof body.model !== 'string' || body.model === '') return false;
  const field = value.url === '/v1/chat/completions' ? 'messages' : value.url === '/v1/completions' ? 'prompt' : 'input';
  const required = body[field];
  if (required === undefined || required === null) return false;
  return field !== 'messages' || Array.isArray(required);
}

interface Verdict {
  /** custom_ids of the requests that must reach the shards, in input order. */
  valid: string[];
  /** 1-based lines that a run must refuse (or skip). */
  bad: Set<number>;
  /** A valid request JSON cannot write (object input only): the sharder must fail. */
  unwritable: boolean;
}

/** What the parse → validate stages must make of these values, run-wide rules included. */
function judge(values: Array<{ line: number; ok: boolean; value?: unknown }>, routeByEndpoint: boolean): Verdict {
  const verdict: Verdict = { valid: [], bad: new Set(), unwritable: false };
  const seen = new Set<string>();
  let endpoint: string | undefined;
  for (const { line, ok, value } of values) {
    if (!ok || !isValidRequest(value)) {
      verdict.bad.add(line);
      continue;
    }
    if (!routeByEndpoint) {
      endpoint ??= value.url;
      if (value.url !== endpoint) {
        verdict.bad.add(line);
        continue;
      }
    }
    if (seen.has(value.custom_id)) {
      verdict.bad.add(line);
      continue;
    }
    seen.add(value.custom_id);
    verdict.valid.push(value.custom_id);
    try {
      if (typeof JSON.stringify(value) !== 'string') verdict.unwritable = true;
    } catch {
      verdict.unwritable = true;
    }
  }
  return verdict;
}

// ---------------------------------------------------------------- parse → validate → shard

/** Object-mode rows: parsed requests and values no JSONL line could hold. */
function objectRows(lines: Buffer[], extras: number[]): unknown[] {
  const rows: unknown[] = [];
  lines.forEach((line, i) => {
    // A string row would be JSONL text to the parser (MIXED_INPUT among objects): a bad line comes as an array.
    let row: unknown;
    try {
      row = JSON.parse(line.toString('utf8'));
    } catch {
      row = [line.toString('utf8')];
    }
    rows.push(typeof row === 'string' ? [row] : row);
    const extra = extras[i % Math.max(1, extras.length)] ?? 0;
    if (extra === 1) rows.push(null);
    if (extra === 2) rows.push({ custom_id: `big-${i}`, method: 'POST', url: '/v1/embeddings', body: { model: 'm1', input: 1n } });
    if (extra === 3) {
      const cyclic: Record<string, unknown> = { model: 'm1', input: 'x' };
      cyclic.self = cyclic;
      rows.push({ custom_id: `cyc-${i}`, method: 'POST', url: '/v1/embeddings', body: cyclic });
    }
    if (extra === 4) rows.push(undefined);
  });
  return rows;
}

t.test('parse → validate → shard: every valid request once, or a coded error and no partial shard', async (t) => {
  const root = scratchRoot(t, 'batchline-fuzz-shard-');
  let run = 0;
  let succeeded = 0;
  let failed = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(lineArb, { maxLength: 25 }),
      fc.record({
        // A clean run has only valid requests with distinct ids (and blank lines), so that success is common too.
        clean: fc.boolean(),
        crlf: fc.boolean(),
        bom: fc.boolean(),
        finalBreak: fc.boolean(),
        chunk: fc.integer({ min: 1, max: 64 }),
        objects: fc.integer({ min: 0, max: 4 }),
        extras: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 5 }),
        onInvalid: fc.constantFrom('error' as const, 'skip' as const),
        routeByEndpoint: fc.boolean(),
        maxBytes: fc.integer({ min: 60, max: 2000 }),
        maxRequests: fc.integer({ min: 1, max: 6 }),
        maxOpenShards: fc.integer({ min: 1, max: 3 }),
        writeBufferBytes: fc.integer({ min: 1, max: 512 }),
        maxLineBytes: fc.integer({ min: 40, max: 20000 }),
      }),
      async (items, o) => {
        const dir = join(root, String(run++));
        mkdirSync(dir);
        const lines = inputLines(o.clean ? cleanItems(items) : items);
        // One run in five feeds rows as objects, through parseSource.
        const asObjects = o.objects === 0;
        let values: Array<{ line: number; ok: boolean; value?: unknown }>;
        let source: Readable;
        if (asObjects) {
          const rows = objectRows(lines, o.extras);
          values = rows.map((value, i) => ({ line: i + 1, ok: true, value }));
          source = parseSource(rows, { onInvalid: o.onInvalid });
        } else {
          const bytes = assemble(lines, o.crlf, o.bom, o.finalBreak);
          values = [];
          lines.forEach((line, i) => {
            const text = lineText(line, i, o.crlf && (i < lines.length - 1 || o.finalBreak), o.bom);
            if (isBlank(text)) return;
            if (text.length > o.maxLineBytes) {
              values.push({ line: i + 1, ok: false });
              return;
            }
            try {
              values.push({ line: i + 1, ok: true, value: JSON.parse(text.toString('utf8')) });
            } catch {
              values.push({ line: i + 1, ok: false });
            }
          });
          const parserOptions = { onInvalid: o.onInvalid, maxLineBytes: o.maxLineBytes };
          if (o.objects === 1) {
            // One run in five reads the input from a file, through parseFile's reused buffers.
            const path = join(root, `input-${run}.jsonl`);
            writeFileSync(path, bytes);
            source = parseFile(path, { ...parserOptions, chunkBytes: o.chunk });
          } else {
            source = Readable.from(chunks(bytes, o.chunk)).pipe(createParser(parserOptions));
          }
        }
        const verdict = judge(values, o.routeByEndpoint);
        const descriptors: ShardDescriptor[] = [];
        const sink = new Writable({
          objectMode: true,
          write(chunk: ShardDescriptor, _encoding, callback) {
            descriptors.push(chunk);
            callback();
          },
        });
        let error: unknown;
        try {
          await pipeline(
            source,
            createValidator({ onInvalid: o.onInvalid, routeByEndpoint: o.routeByEndpoint }),
            createSharder({
              dir,
              maxBytes: o.maxBytes,
              maxRequests: o.maxRequests,
              maxOpenShards: o.maxOpenShards,
              writeBufferBytes: o.writeBufferBytes,
            }),
            sink,
          );
        } catch (err) {
          error = err;
        }
        // Whatever happened, the directory holds exactly the finished shards, each whole.
        const files = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(dir, e.name));
        const named = new Set(descriptors.map((d) => d.path));
        for (const file of files) if (!named.has(file)) return fail(`a shard file no descriptor names was left: ${file}`, error);
        const ids: string[] = [];
        for (const d of descriptors) {
          const content = readFileSync(d.path);
          if (content.length !== d.bytes) return fail(`shard ${d.index} holds ${content.length} bytes, its descriptor says ${d.bytes}`);
          if (createHash('sha256').update(content).digest('hex') !== d.sha256) return fail(`shard ${d.index}: sha256 differs`);
          const shardLines = content.toString('utf8').split('\n');
          if (shardLines.pop() !== '') return fail(`shard ${d.index} does not end with a line break`);
          if (shardLines.length !== d.requests) return fail(`shard ${d.index} holds ${shardLines.length} lines, not ${d.requests}`);
          for (const line of shardLines) ids.push((JSON.parse(line) as { custom_id: string }).custom_id);
        }
        if (error !== undefined) {
          failed++;
          const why = coded(error);
          if (why) return fail(why);
          const err = error as BatchlineError;
          // A line-level error names a line the input really has wrong; a request limit or JSON limit a valid one.
          if (PER_LINE_CODES.has(err.code) && err.code !== 'REQUEST_TOO_LARGE' && err.code !== 'INVALID_REQUEST') {
            if (!verdict.bad.has(err.line as number)) return fail(`${err.code} on line ${err.line}, a line judged valid: ${err.message}`);
          }
          if (o.onInvalid === 'skip' && err.code !== 'REQUEST_TOO_LARGE' && err.code !== 'INVALID_REQUEST' && err.code !== 'LINE_TOO_LARGE') {
            return fail(`skip mode failed on a skippable line: ${err.code} ${err.message}`);
          }
          // What was finished is a prefix of the valid requests, none twice.
          if (new Set(ids).size !== ids.length) return fail(`a request was written twice: ${JSON.stringify(ids)}`);
          return true;
        }
        succeeded++;
        if (o.onInvalid === 'error' && verdict.bad.size > 0) {
          return fail(`lines ${[...verdict.bad].join(', ')} are invalid, yet the run succeeded`);
        }
        if (verdict.unwritable) return fail('a request JSON cannot write reached the shards');
        // Shards are per route, so compare as sorted multisets: each valid request exactly once.
        const want = [...verdict.valid].sort();
        const got = [...ids].sort();
        if (JSON.stringify(got) !== JSON.stringify(want)) return fail(`shards hold ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
        return true;
      },
    ),
    { numRuns: 200 },
  );
  t.ok(succeeded > 0 && failed > 0, `both outcomes were exercised (${succeeded} succeeded, ${failed} failed)`);
});

/** fast-check shows the thrown message with its counterexample. */
function fail(message: string, cause?: unknown): never {
  throw new Error(cause === undefined ? message : `${message} (run error: ${String((cause as Error)?.message ?? cause)})`);
}

// ---------------------------------------------------------------- join

/** Codes the join gives a bad input line. */
const INPUT_CODES = new Set(['INVALID_JSON', 'INVALID_REQUEST', 'MISSING_CUSTOM_ID', 'INVALID_CUSTOM_ID', 'DUPLICATE_CUSTOM_ID']);

const STATUS_LINES = [
  (id: string) => ({ id: 'batch_req_1', custom_id: id, response: { status_code: 200, request_id: 'r', body: { ok: 1 } }, error: null }),
  (id: string) => ({ id: 'batch_req_2', custom_id: id, response: { status_code: 400, request_id: 'r', body: {} }, error: null }),
  (id: string) => ({ id: 'batch_req_3', custom_id: id, response: null, error: { code: 'batch_expired', message: 'late' } }),
  (id: string) => ({ id: 'batch_req_4', custom_id: id, response: null, error: { code: 'server_error', message: 'boom' } }),
];

/** Result lines that are wrong in shape, in JSON or in id. */
const resultJunk = [
  (id: string) => JSON.stringify({ custom_id: id, response: null, error: null }),
  (id: string) => JSON.stringify({ custom_id: id, response: { status_code: '200' }, error: null }),
  (id: string) => JSON.stringify({ custom_id: id, response: { status_code: 1e400 }, error: null }).replace('null,', '1e400,'),
  (id: string) => JSON.stringify({ custom_id: id, response: [], error: null }),
  (id: string) => JSON.stringify({ custom_id: id, response: null, error: { code: 5 } }),
  (id: string) => JSON.stringify({ custom_id: id, response: null, error: 'x' }),
  (id: string) => JSON.stringify({ custom_id: id, response: { status_code: 200.5 }, error: null }),
  (id: string) => JSON.stringify({ custom_id: id, response: { status_code: 123456789012345678901234567890 }, error: null }),
  (id: string) => JSON.stringify({ custom_id: id, response: { status_code: 200, body: { n: [[[[{}]]]] } }, error: null }).slice(0, -1),
  (id: string) => `{"custom_id":${JSON.stringify(id)},"response":{"status_code":200,"body":"bad\\escape"},"error":null}`,
  () => JSON.stringify({ custom_id: 7, response: null, error: { code: 'x' } }),
  () => JSON.stringify({ response: null, error: { code: 'x' } }),
  () => JSON.stringify({ custom_id: 'not-in-input', response: null, error: { code: 'x' } }),
  () => '[]',
  () => '"just a string"',
  () => 'null',
  () => '{"custom_id":"trunc',
];

interface ResultPlan {
  which: number;
  shape: number;
  junk: boolean;
  mutation: Mutation | null;
  file: number;
}

const resultPlanArb: fc.Arbitrary<ResultPlan> = fc.record({
  which: fc.nat(),
  shape: fc.nat(),
  junk: fc.boolean(),
  mutation: fc.option(mutationArb, { freq: 4 }),
  file: fc.nat({ max: 2 }),
});

t.test('join: each input request exactly once, in order, or a coded error and no temp dir left', async (t) => {
  const root = scratchRoot(t, 'batchline-fuzz-join-');
  let run = 0;
  let succeeded = 0;
  let failed = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(lineArb, { maxLength: 20 }),
      fc.array(resultPlanArb, { maxLength: 30 }),
      fc.record({
        // A clean run has only valid requests with distinct ids (and blank lines), so that success is common too.
        clean: fc.boolean(),
        crlf: fc.boolean(),
        bom: fc.boolean(),
        finalBreak: fc.boolean(),
        chunk: fc.integer({ min: 1, max: 64 }),
        withIssues: fc.boolean(),
        inputFile: fc.boolean(),
        // Mostly roomy; at times short enough that real lines pass it.
        maxLineBytes: fc.oneof({ weight: 1, arbitrary: fc.integer({ min: 60, max: 300 }) }, { weight: 3, arbitrary: fc.constant(100_000) }),
        includeRequest: fc.boolean(),
        junkRate: fc.integer({ min: 0, max: 3 }),
        partitionRequests: fc.integer({ min: 1, max: 5 }),
        maxPartitionBytes: fc.integer({ min: 1024, max: 4096 }),
        duplicateLines: fc.array(fc.nat(), { maxLength: 3 }),
      }),
      async (items, plans, o) => {
        const runDir = join(root, String(run++));
        mkdirSync(runDir);
        const lines = inputLines(o.clean ? cleanItems(items) : items);
        const bytes = assemble(lines, o.crlf, o.bom, o.finalBreak);

        // The join's own input rules: every non-blank line a JSON object with a string custom_id, no id twice.
        const inputIds: Array<{ id: string; line: number; value: unknown }> = [];
        const badInput = new Set<number>();
        const seen = new Set<string>();
        lines.forEach((line, i) => {
          const text = lineText(line, i, o.crlf && (i < lines.length - 1 || o.finalBreak), o.bom);
          if (text.length > o.maxLineBytes) {
            badInput.add(i + 1);
            return;
          }
          if (isBlank(text)) return;
          let value: unknown;
          try {
            value = JSON.parse(text.toString('utf8'));
          } catch {
            badInput.add(i + 1);
            return;
          }
          if (!plainObject(value) || typeof value.custom_id !== 'string' || seen.has(value.custom_id)) {
            badInput.add(i + 1);
            return;
          }
          seen.add(value.custom_id);
          inputIds.push({ id: value.custom_id, line: i + 1, value });
        });

        // Result files: lines for input ids (or junk), mutated at times, repeated at times.
        const files: Buffer[][] = [[], [], []];
        for (const plan of plans) {
          const id = inputIds.length ? inputIds[plan.which % inputIds.length].id : 'none';
          const text =
            plan.junk && !o.clean && plan.shape % 4 < o.junkRate
              ? resultJunk[plan.shape % resultJunk.length](id)
              : JSON.stringify(STATUS_LINES[plan.shape % STATUS_LINES.length](id));
          files[plan.file].push(plan.mutation && !o.clean ? mutate(Buffer.from(text), plan.mutation) : Buffer.from(text));
        }
        for (const k of o.duplicateLines) {
          const all = files.flat();
          if (all.length) files[k % 3].push(all[k % all.length]);
        }
        // The three files differ in line breaks and BOM, as files from different places might.
        const resultBuffers = files.map((f, i) => assemble(f, i === 1 ? !o.crlf : o.crlf, i === 2 && o.bom, o.finalBreak));
        const inputPath = join(root, `input-${run}.jsonl`);
        if (o.inputFile) writeFileSync(inputPath, bytes);
        const issues: JoinError[] = [];
        const joined: JoinedResult[] = [];
        let error: unknown;
        try {
          const join = joinResults({
            // A path is read twice; a stream is spooled to the temp dir first.
            input: o.inputFile ? inputPath : Readable.from(chunks(bytes, o.chunk)),
            includeRequest: o.includeRequest,
            maxLineBytes: o.maxLineBytes,
            results: resultBuffers.map((b, i) => (i === 2 && b.length === 0 ? null : Readable.from(chunks(b, o.chunk + i)))),
            tempDir: runDir,
            partitionRequests: o.partitionRequests,
            maxPartitionBytes: o.maxPartitionBytes,
            onIssue: o.withIssues ? (issue) => void issues.push(issue) : undefined,
          });
          for await (const result of join) joined.push(result);
        } catch (err) {
          error = err;
        }
        const left = readdirSync(runDir);
        if (left.length > 0) return fail(`the join left ${JSON.stringify(left)} in its temp dir`, error);
        for (const issue of issues) {
          const why = coded(issue);
          if (why) return fail(`issue: ${why}`);
        }
        if (error !== undefined) {
          failed++;
          const why = coded(error);
          if (why) return fail(why);
          // The input is read through before any result: a bad input line is what fails, and only then.
          const err = error as BatchlineError;
          // LINE_TOO_LARGE may come from a result file too; then the input must have been all good.
          if (err.code === 'LINE_TOO_LARGE' && badInput.size > 0 && !badInput.has(err.line as number)) {
            return fail(`LINE_TOO_LARGE on line ${err.line}, not a bad input line`);
          }
          if (err.code === 'LINE_TOO_LARGE') return true;
          if (INPUT_CODES.has(err.code) !== badInput.size > 0) return fail(`${err.code} (${err.message}) with bad input lines ${[...badInput]}`);
          if (INPUT_CODES.has(err.code) && !badInput.has(err.line as number)) return fail(`${err.code} on input line ${err.line}, judged valid`);
          return true;
        }
        succeeded++;
        if (badInput.size > 0) return fail(`input lines ${[...badInput]} are bad, yet the join succeeded`);
        if (o.includeRequest) {
          for (let k = 0; k < joined.length; k++) {
            if (!isDeepStrictEqual(joined[k].request, inputIds[k]?.value)) return fail(`request ${k} is not echoed as it was read`);
          }
        }
        const got = joined.map((r) => [r.custom_id, r.line]);
        const want = inputIds.map((r) => [r.id, r.line]);
        if (JSON.stringify(got) !== JSON.stringify(want)) return fail(`joined ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
        // Each request's status is the one of the first well-formed result read for it.
        const first = new Map<string, ReturnType<typeof parseResultLine>>();
        files.forEach((f, source) => {
          f.forEach((raw, i) => {
            const line = lineText(raw, i, (source === 1 ? !o.crlf : o.crlf) && (i < f.length - 1 || o.finalBreak), source === 2 && o.bom);
            if (isBlank(line)) return;
            let result;
            try {
              result = parseResultLine(line, { source: `results[${source}]`, line: i + 1 });
            } catch {
              return;
            }
            if (seen.has(result.custom_id) && !first.has(result.custom_id)) first.set(result.custom_id, result);
          });
        });
        for (const r of joined) {
          const result = first.get(r.custom_id);
          const want = result ? resultStatus(result) : 'missing';
          if (r.status !== want) return fail(`${JSON.stringify(r.custom_id)} joined as ${r.status}, want ${want}`);
        }
        return true;
      },
    ),
    { numRuns: 200 },
  );
  t.ok(succeeded > 0 && failed > 0, `both outcomes were exercised (${succeeded} succeeded, ${failed} failed)`);
});

// ---------------------------------------------------------------- what the fuzz found, pinned

const embedding = (id: string) => ({ custom_id: id, method: 'POST', url: '/v1/embeddings', body: { model: 'm1', input: 'x' } });

async function validated(rows: unknown[], onInvalid: 'error' | 'skip'): Promise<{ ids: string[]; skipped: BatchlineError[] }> {
  const ids: string[] = [];
  const validator = createValidator({ onInvalid });
  await pipeline(
    parseSource(rows),
    validator,
    new Writable({
      objectMode: true,
      write(chunk: { value: { custom_id: string } }, _encoding, callback) {
        ids.push(chunk.value.custom_id);
        callback();
      },
    }),
  );
  return { ids, skipped: validator.stats.skippedErrors };
}

t.test('a null row is a bad line like any other, not an uncoded stream error', async (t) => {
  const { ids, skipped } = await validated([embedding('a'), null, embedding('b')], 'skip');
  t.same(ids, ['a', 'b']);
  t.same(skipped.map((e) => [e.code, e.line]), [['INVALID_REQUEST', 2]]);
  await t.rejects(validated([embedding('a'), null], 'error'), { code: 'INVALID_REQUEST', line: 2 });
  // An async iterable takes the same way.
  const rows = (async function* () {
    yield embedding('a');
    yield null;
  })();
  await t.rejects(validated(rows as unknown as unknown[], 'error'), { code: 'INVALID_REQUEST', line: 2 });
});

t.test('custom_ids that differ only in lone surrogates are different ids', async (t) => {
  const lines = ['"\\ud800"', '"\\udc00"', '"\\ud800\\udc00"', '"\\udc00\\ud800"', '"\ufffd"'].map(
    (id) => `{"custom_id":${id},"method":"POST","url":"/v1/embeddings","body":{"model":"m1","input":"x"}}`,
  );
  const ids: string[] = [];
  await pipeline(
    Readable.from([lines.join('\n')]),
    createParser(),
    createValidator(),
    new Writable({
      objectMode: true,
      write(chunk: { value: { custom_id: string } }, _encoding, callback) {
        ids.push(chunk.value.custom_id);
        callback();
      },
    }),
  );
  t.same(ids, ['\ud800', '\udc00', '\u{10000}', '\udc00\ud800', '\ufffd']);
  await t.rejects(
    pipeline(Readable.from([`${lines[0]}\n${lines[1]}\n${lines[0]}`]), createParser(), createValidator(), new Writable({ objectMode: true, write: (_c, _e, cb) => cb() })),
    { code: 'DUPLICATE_CUSTOM_ID', line: 3 },
  );
});

t.test('the join reads a repeated custom_id key as JSON.parse and the validator do: the last one wins', async (t) => {
  const root = scratchRoot(t, 'batchline-fuzz-pinned-');
  const inputs = [
    '{"custom_id":"dk1","method":"POST","custom_id":"dk2","url":"/v1/embeddings","body":{"model":"m1","input":"x"}}',
    '{"custom_id":"e1","custom\\u005fid":"e2","method":"POST","url":"/v1/embeddings","body":{"model":"m1","input":"x"}}',
    '{"custom_id":7,"custom_id":"n2","method":"POST","url":"/v1/embeddings","body":{"model":"m1","input":"x"}}',
  ];
  const results = ['dk2', 'e2', 'n2'].map((id) => JSON.stringify(STATUS_LINES[0](id))).join('\n');
  const joined: JoinedResult[] = [];
  for await (const r of joinResults({ input: Readable.from([inputs.join('\n')]), results: [Readable.from([results])], tempDir: root })) joined.push(r);
  t.same(joined.map((r) => [r.custom_id, r.status]), [['dk2', 'succeeded'], ['e2', 'succeeded'], ['n2', 'succeeded']]);
  t.same(readdirSync(root), []);
});
