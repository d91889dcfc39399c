/**
 * The emulator the transport benchmark sends to, in a process of its own so
 * that its work and memory are not the contenders':
 *   node --expose-gc transport-emulator.js <api-key> [state-dir]
 * Prints {"url": …} once it listens. Each line `gc` on its stdin runs a full
 * collection (so that the files deleted after one contender are freed before
 * the next starts) and is answered {"gc": true}. When stdin closes it stops
 * and prints {"maxRssMB": …}, its own peak.
 */
import { createInterface } from 'node:readline';
import { startEmulator } from '../../src/emulator/index.ts';
import { peakRssMB } from './peak-rss.ts';

const [apiKey, stateDir] = process.argv.slice(2);
const emulator = await startEmulator({ apiKey, ...(stateDir ? { stateDir } : {}), log: (line) => process.stderr.write(`${line}\n`) });
process.stdout.write(`${JSON.stringify({ url: emulator.url })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== 'gc') continue;
  (globalThis as { gc?: () => void }).gc?.();
  process.stdout.write(`${JSON.stringify({ gc: true })}\n`);
}
await emulator.close();
process.stdout.write(`${JSON.stringify({ maxRssMB: peakRssMB() })}\n`);
