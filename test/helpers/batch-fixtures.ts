/** Shared set-up for the batch engine tests: an engine over a real file store, input files, waiting. */
import { BatchEngine, type BatchEngineOptions } from '../../src/emulator/batches/engine.ts';
import { EmulatorClock } from '../../src/emulator/clock.ts';
import type { EmulatorFileStore } from '../../src/emulator/store/file-store.ts';
import { createFileStore } from '../../src/emulator/store/open-file-store.ts';
import type { BatchObject, BatchResultLine, BatchStatus } from '../../src/types.ts';

/** A run long in emulator time: nothing moves unless a test moves the clock, so no test depends on the machine's speed. */
export const LONG_RUN_MS = 1_000_000;

export interface EngineFixture {
  engine: BatchEngine;
  store: EmulatorFileStore;
  clock: EmulatorClock;
}

export async function startEngine(
  options: Partial<Omit<BatchEngineOptions, 'store' | 'clock'>> = {},
  shared: { clock?: EmulatorClock; store?: EmulatorFileStore } = {},
): Promise<EngineFixture> {
  const clock = shared.clock ?? new EmulatorClock();
  const store = shared.store ?? (await createFileStore({ clock, stateDir: options.stateDir }));
  const engine = new BatchEngine({ store, clock, batchDurationMs: LONG_RUN_MS, ...options });
  await engine.init();
  return { engine, store, clock };
}

export function chatLine(customId: string, text = `hello ${customId}`, model = 'gpt-4o-mini'): Record<string, unknown> {
  return { custom_id: customId, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: text }] } };
}

export function chatLines(count: number, prefix = 'r'): Array<Record<string, unknown>> {
  return Array.from({ length: count }, (_, i) => chatLine(`${prefix}${i + 1}`));
}

/** Stores raw lines (objects are JSON-encoded) as a purpose-batch file, in small chunks. */
export async function putInput(store: EmulatorFileStore, lines: Array<Record<string, unknown> | string>, purpose = 'batch'): Promise<string> {
  const text = lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n') + '\n';
  const bytes = Buffer.from(text, 'utf8');
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let i = 0; i < bytes.length; i += 4096) yield bytes.subarray(i, i + 4096);
  }
  return (await store.create({ filename: 'input.jsonl', purpose }, chunks())).id;
}

export async function readLines(store: EmulatorFileStore, fileId: string | null | undefined): Promise<BatchResultLine[]> {
  if (!fileId) return [];
  const parts: Buffer[] = [];
  for await (const chunk of store.read(fileId)) parts.push(chunk as Buffer);
  return Buffer.concat(parts)
    .toString('utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as BatchResultLine);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until the batch reaches one of the statuses; records every status seen on the way. */
export async function waitForStatus(
  engine: BatchEngine,
  id: string,
  statuses: BatchStatus[],
  timeoutMs = 5000,
): Promise<{ batch: BatchObject; seen: BatchStatus[] }> {
  const seen: BatchStatus[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const batch = engine.retrieve(id);
    if (seen[seen.length - 1] !== batch.status) seen.push(batch.status);
    if (statuses.includes(batch.status)) return { batch, seen };
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${batch.status} after ${timeoutMs} ms (seen ${seen.join(' → ')})`);
    await sleep(5);
  }
}

/** A result file id the batch does not have: null, or "" as the live service has also sent (the emulator sends both). */
export function isAbsentFileId(id: string | null | undefined): boolean {
  return id === null || id === '';
}

export const TERMINAL: BatchStatus[] = ['completed', 'failed', 'expired', 'cancelled'];

/** Moves emulator time past a whole run (`durationMs`, the engine's batch duration) and waits for the batch to settle. */
export function runToEnd(
  fixture: { engine: BatchEngine; clock: EmulatorClock },
  id: string,
  durationMs = LONG_RUN_MS,
): Promise<{ batch: BatchObject; seen: BatchStatus[] }> {
  fixture.clock.advance(durationMs);
  return waitForStatus(fixture.engine, id, TERMINAL);
}
