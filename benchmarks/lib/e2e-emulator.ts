/**
 * The emulator the end-to-end benchmark runs against, in a process of its
 * own (its CPU and memory are not the contenders'), files on disk:
 *   node e2e-emulator.js <api-key> <state-dir> <batch-duration-ms>
 * Prints {"url": …} once it listens; when stdin closes it stops and prints
 * {"maxRssMB": …}.
 */
import { createInterface } from 'node:readline';
import { startEmulator } from '../../src/emulator/index.ts';
import { peakRssMB } from './peak-rss.ts';

const [apiKey, stateDir, duration] = process.argv.slice(2);
const emulator = await startEmulator({ apiKey, stateDir, batchDurationMs: Number(duration), log: (line) => process.stderr.write(`${line}\n`) });
process.stdout.write(`${JSON.stringify({ url: emulator.url })}\n`);
for await (const _line of createInterface({ input: process.stdin })) void _line;
await emulator.close();
process.stdout.write(`${JSON.stringify({ maxRssMB: peakRssMB() })}\n`);
