/** An emulator with an official SDK client for the batch tests, and the SDK calls they repeat. */
import OpenAI, { toFile } from 'openai';
import type { Batch } from 'openai/resources/batches';
import { startEmulator, type EmulatorHandle, type EmulatorOptions } from '../../src/emulator/index.ts';
import type { BatchResultLine } from '../../src/types.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A run long in emulator time: batches move only when a test moves the clock, however loaded the machine is. */
export const LONG_RUN_MS = 1_000_000;

export async function batchEmulator(t: Teardown, options: EmulatorOptions = {}): Promise<{ emulator: EmulatorHandle; client: OpenAI }> {
  const emulator = await startEmulator({ batchDurationMs: LONG_RUN_MS, ...options });
  t.teardown(() => emulator.close());
  const client = new OpenAI({ baseURL: `${emulator.url}/v1`, apiKey: 'k', maxRetries: 0 });
  return { emulator, client };
}

export async function uploadJsonl(client: OpenAI, lines: Array<Record<string, unknown> | string>, name = 'input.jsonl'): Promise<string> {
  const text = lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n') + '\n';
  const file = await client.files.create({ file: await toFile(Buffer.from(text, 'utf8'), name), purpose: 'batch' });
  return file.id;
}

const TERMINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);

/** Polls through the SDK until the batch leaves `status` (or ends), recording each status seen. */
export async function pollWhile(client: OpenAI, id: string, status: string, seen: string[], timeoutMs = 10_000): Promise<Batch> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const batch = await client.batches.retrieve(id);
    if (seen[seen.length - 1] !== batch.status) seen.push(batch.status);
    if (batch.status !== status || TERMINAL.has(batch.status)) return batch;
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${batch.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function pollUntilDone(client: OpenAI, id: string, timeoutMs = 10_000): Promise<{ batch: Batch; seen: string[] }> {
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const batch = await client.batches.retrieve(id);
    if (seen[seen.length - 1] !== batch.status) seen.push(batch.status);
    if (TERMINAL.has(batch.status)) return { batch, seen };
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${batch.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Moves emulator time past a whole run and polls, as a user's loop would, until the batch has settled. */
export async function runToEnd(emulator: EmulatorHandle, client: OpenAI, id: string, durationMs = LONG_RUN_MS): Promise<{ batch: Batch; seen: string[] }> {
  emulator.clock.advance(durationMs);
  return pollUntilDone(client, id);
}

export async function fileLines(client: OpenAI, fileId: string | null | undefined): Promise<BatchResultLine[]> {
  if (!fileId) return [];
  const text = await (await client.files.content(fileId)).text();
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as BatchResultLine);
}

export function request(endpoint: string, customId: string, body: Record<string, unknown>): Record<string, unknown> {
  return { custom_id: customId, method: 'POST', url: endpoint, body };
}
