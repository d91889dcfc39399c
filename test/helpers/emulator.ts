/** Starting an emulator for one test file, and the small things its tests share. */
import OpenAI from 'openai';
import { startEmulator, type EmulatorHandle, type EmulatorOptions } from '../../src/emulator/index.ts';
import { tempDir as makeTempDir, type Teardown } from './temp.ts';

export const TEST_KEY = 'test-key';


/** An emulator on a free port, closed when the test ends, and an SDK client for it. */
export async function emulatorWithClient(
  t: Teardown,
  options: EmulatorOptions = {},
  clientOptions: { maxRetries?: number; apiKey?: string } = {},
): Promise<{ emulator: EmulatorHandle; client: OpenAI }> {
  const emulator = await startEmulator({ batchDurationMs: 200, ...options });
  t.teardown(() => emulator.close());
  const client = new OpenAI({ baseURL: `${emulator.url}/v1`, apiKey: clientOptions.apiKey ?? TEST_KEY, maxRetries: clientOptions.maxRetries ?? 0 });
  return { emulator, client };
}

/** A fresh directory, removed when the test ends. */
export function tempDir(t: Teardown, prefix = 'batchline-emulator-'): Promise<string> {
  return makeTempDir(t, prefix);
}

/** JSONL text of chat requests, one per custom_id. */
export function chatLines(ids: string[], model = 'gpt-4o-mini'): string {
  return ids
    .map((id) => JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: `hello ${id}` }] } }) + '\n')
    .join('');
}

/** The error the promise rejects with; fails loudly when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** fetch + JSON body, untyped: tests check the shape themselves. */
export async function fetchJson(url: string, init?: RequestInit): Promise<any> {
  return (await fetch(url, init)).json();
}
