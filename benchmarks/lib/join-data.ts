/**
 * Benchmark data for the join: an input of `n` chat requests and its results,
 * shuffled over four output files and one error file, as the Batch API
 * writes them. Deterministic for a given n; regenerated only when missing.
 */
import { closeSync, createReadStream, existsSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { shuffleInPlace } from '../../src/core/seeded-random.ts';

export interface JoinData {
  dir: string;
  input: string;
  results: string[];
  bytes: number;
}


const id = (ordinal: number) => `req-${String(ordinal).padStart(9, '0')}`;
const FILLER = 'The quick brown fox jumps over the lazy dog. '.repeat(18);

type Fate = 'succeeded' | 'rejected' | 'expired' | 'cancelled' | 'failed' | 'missing';

/** Which of the input's requests ends how: 1% missing, 4% in the error file. */
function fate(ordinal: number): Fate {
  const k = ordinal % 100;
  if (k === 17) return 'missing';
  if (k === 31) return 'rejected';
  if (k === 53) return 'expired';
  if (k === 71) return 'failed';
  if (k === 89) return 'cancelled';
  return 'succeeded';
}

function resultLine(ordinal: number): string {
  const customId = id(ordinal);
  const requestId = `req_${(ordinal * 2654435761 >>> 0).toString(16)}`;
  switch (fate(ordinal)) {
    case 'rejected':
      return `{"id":"batch_req_${ordinal}","custom_id":"${customId}","response":{"status_code":400,"request_id":"${requestId}","body":{"error":{"message":"Invalid 'messages': empty content.","type":"invalid_request_error","param":"messages","code":null}}},"error":null}`;
    case 'expired':
      return `{"id":"batch_req_${ordinal}","custom_id":"${customId}","response":null,"error":{"code":"batch_expired","message":"This request could not be executed before the completion window expired."}}`;
    case 'cancelled':
      return `{"id":"batch_req_${ordinal}","custom_id":"${customId}","response":null,"error":{"code":"batch_cancelled","message":"This request was not executed because the batch was cancelled."}}`;
    case 'failed':
      return `{"id":"batch_req_${ordinal}","custom_id":"${customId}","response":null,"error":{"code":"server_error","message":"The server had an error while processing your request."}}`;
    default:
      return (
        `{"id":"batch_req_${ordinal}","custom_id":"${customId}","response":{"status_code":200,"request_id":"${requestId}",` +
        `"body":{"id":"chatcmpl-${ordinal}","object":"chat.completion","created":1711652795,"model":"gpt-4o-mini-2024-07-18",` +
        `"choices":[{"index":0,"message":{"role":"assistant","content":"Answer ${ordinal}: ${FILLER}"},"logprobs":null,"finish_reason":"stop"}],` +
        `"usage":{"prompt_tokens":22,"completion_tokens":180,"total_tokens":202},"system_fingerprint":"fp_3bc1b5746c"}},"error":null}`
      );
  }
}

class BufferedFile {
  private readonly fd: number;
  private pending: string[] = [];
  private size = 0;
  bytes = 0;
  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }
  line(text: string): void {
    this.pending.push(text);
    this.size += text.length;
    if (this.size > 4 << 20) this.flush();
  }
  flush(): void {
    if (this.pending.length === 0) return;
    const buffer = Buffer.from(this.pending.join('\n') + '\n');
    writeSync(this.fd, buffer);
    this.bytes += buffer.length;
    this.pending = [];
    this.size = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

export function joinData(root: string, n: number): JoinData {
  const dir = join(root, `join-v2-${n}`);
  const input = join(dir, 'input.jsonl');
  const results = [0, 1, 2, 3].map((k) => join(dir, `output-${k}.jsonl`)).concat(join(dir, 'errors.jsonl'));
  const done = join(dir, 'complete');
  if (existsSync(done)) return { dir, input, results, bytes: 0 };
  mkdirSync(dir, { recursive: true });
  const inputFile = new BufferedFile(input);
  for (let ordinal = 0; ordinal < n; ordinal++) {
    inputFile.line(
      `{"custom_id":"${id(ordinal)}","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Question ${ordinal}: summarise the passage."}],"max_tokens":256}}`,
    );
  }
  inputFile.close();
  // Shuffle the ordinals (Fisher–Yates over a Uint32Array: 4 bytes a request).
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  shuffleInPlace(order, n);
  const files = results.map((path) => new BufferedFile(path));
  for (let i = 0; i < n; i++) {
    const ordinal = order[i];
    const ends = fate(ordinal);
    if (ends === 'missing') continue;
    files[ends === 'succeeded' ? ordinal % 4 : 4].line(resultLine(ordinal));
  }
  let bytes = inputFile.bytes;
  for (const file of files) {
    file.close();
    bytes += file.bytes;
  }
  writeFileSync(done, `${bytes}\n`);
  return { dir, input, results, bytes };
}

/**
 * Reads a joined JSONL file and checks it line by line against what the data
 * was generated to say: request k at line k + 1, in order, with its status.
 * Returns the count per status; throws at the first wrong line.
 */
export async function checkJoined(path: string, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let ordinal = 0;
  let carry = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const lines = (carry + (chunk as string)).split('\n');
    carry = lines.pop() ?? '';
    for (const line of lines) {
      const result = JSON.parse(line) as { custom_id: string; line: number; status: string };
      const want = fate(ordinal);
      if (result.custom_id !== id(ordinal) || result.line !== ordinal + 1 || result.status !== want) {
        throw new Error(`joined line ${ordinal + 1}: ${line.slice(0, 120)} — expected ${id(ordinal)} ${want}`);
      }
      counts[want] = (counts[want] ?? 0) + 1;
      ordinal++;
    }
  }
  if (carry !== '' || ordinal !== n) throw new Error(`joined file holds ${ordinal} lines, expected ${n}`);
  return counts;
}
