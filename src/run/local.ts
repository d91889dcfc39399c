/**
 * `local: true`: an emulator in this process, its state in the run's state
 * dir, so a local run resumes like a remote one. Loaded only when asked for:
 * importing runBatch loads no HTTP server.
 */
import type { LocalEmulatorOptions } from './options.ts';

export async function startLocalApi(stateDir: string, options: LocalEmulatorOptions): Promise<{ baseURL: string; close: () => Promise<void> }> {
  const { startEmulator } = await import('../emulator/index.ts');
  const emulator = await startEmulator({ ...options, stateDir });
  return { baseURL: `${emulator.url}/v1`, close: () => emulator.close() };
}
