/** Shared set-up for the submit, poll and download tests: an emulator, our client, uploaded shards. */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toFile } from 'openai';
import { startEmulator, type EmulatorHandle, type EmulatorOptions } from '../../src/emulator/index.ts';
import { ApiClient, type ClientOptions } from '../../src/openai/client.ts';
import type { BatchObject, BatchResultLine, UploadedShard } from '../../src/types.ts';
import { tempDir, type Teardown } from './temp.ts';

export const KEY = 'test-key';

/** Retries without long waits (429 faults still ask for their Retry-After). */
export const FAST_RETRY = { baseDelayMs: 1, maxDelayMs: 20, maxAttempts: 12 };

export interface Transport {
  emulator: EmulatorHandle;
  client: ApiClient;
  dir: string;
}

/** An emulator closed when the test ends, our client for it, and a temp directory. */
export async function transport(t: Teardown, options: EmulatorOptions = {}, clientOptions: ClientOptions = {}): Promise<Transport> {
  const emulator = await startEmulator({ batchDurationMs: 200, ...options });
  t.teardown(() => emulator.close());
  const client = new ApiClient({ apiKey: KEY, baseURL: `${emulator.url}/v1`, retry: FAST_RETRY, ...clientOptions });
  return { emulator, client, dir: await tempDir(t, 'batchline-transport-') };
}

export function chatRequest(customId: string, model = 'gpt-4o-mini'): string {
  return JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: `hello ${customId}` }] } });
}

/** Writes `count` shard files of `perShard` chat requests each and uploads them (before any fault is switched on). */
export async function uploadedShards({ client, dir }: Transport, count: number, perShard: number, prefix = 'r'): Promise<UploadedShard[]> {
  const shards: UploadedShard[] = [];
  for (let index = 0; index < count; index++) {
    const ids = Array.from({ length: perShard }, (_, i) => `${prefix}${index}-${i}`);
    const text = ids.map((id) => chatRequest(id) + '\n').join('');
    shards.push(await uploadText(client, dir, index, text));
  }
  return shards;
}

/** One shard file with this exact text, uploaded. */
export async function uploadText(client: ApiClient, dir: string, index: number, text: string): Promise<UploadedShard> {
  const bytes = Buffer.from(text);
  const path = join(dir, `shard-${String(index).padStart(5, '0')}.jsonl`);
  await writeFile(path, bytes);
  const file = await client.sdk.files.create({ file: await toFile(bytes, `shard-${index}.jsonl`), purpose: 'batch' });
  const lines = text.split('\n').filter(Boolean);
  return {
    index,
    path,
    bytes: bytes.length,
    requests: lines.length,
    endpoint: '/v1/chat/completions',
    model: 'gpt-4o-mini',
    firstLine: 1,
    lastLine: lines.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    md5: createHash('md5').update(bytes).digest('hex'),
    fileId: file.id,
  };
}

/** Every batch on the emulator, read straight from its engine (no faults, no client). */
export function allBatches(emulator: EmulatorHandle): BatchObject[] {
  const out: BatchObject[] = [];
  let after: string | undefined;
  for (;;) {
    const page = emulator.batches.list(after === undefined ? { limit: 100 } : { limit: 100, after });
    out.push(...page.data);
    if (!page.has_more) return out;
    after = page.last_id ?? undefined;
  }
}

/** Result lines from whole-line chunks, each parsed. */
export function parseLines(chunks: readonly Buffer[]): BatchResultLine[] {
  const text = Buffer.concat(chunks).toString('utf8');
  return text.split('\n').filter((line) => line.length > 0).map((line) => JSON.parse(line) as BatchResultLine);
}

/** Waits for a condition, checking every few milliseconds. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Finishes a batch now: moves emulator time past its run and waits until it has ended. */
export async function finish(emulator: EmulatorHandle, batchId: string, stepMs = 1000): Promise<BatchObject> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const batch = emulator.batches.retrieve(batchId);
    if (['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) return batch;
    if (Date.now() > deadline) throw new Error(`batch ${batchId} still ${batch.status}`);
    emulator.clock.advance(stepMs);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
