/**
 * The parent's side of transport.bench.ts: the emulator's child process, one
 * contender's child process, and the checks run on what they did.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';

export const API_KEY = 'bench-key';

export interface RunResult {
  /** From the first request to the last answer, measured in the child. */
  seconds: number;
  /** The child's whole life: start-up, module loading, the transfer and exit. */
  processSeconds: number;
  bytes: number;
  fileIds: string[];
  maxRssMB: number;
  /** CPU seconds (user + system) of the contender's process, and of the emulator's during its run. */
  cpuSeconds: number;
  emulatorCpuSeconds: number;
}

/** CPU seconds a process has used so far, from /proc (clock ticks of 1/100 s). */
export async function cpuSecondsOf(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Runs `node [flags] script args…` and parses the one JSON line it prints. */
export function runChild(script: string, args: string[], nodeFlags: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...nodeFlags, script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    let text = '';
    proc.stdout.on('data', (chunk) => (text += chunk));
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${args.slice(0, 2).join(' ')} exited ${code}`));
      resolve({ ...(JSON.parse(text) as RunResult), processSeconds: (performance.now() - started) / 1000, emulatorCpuSeconds: NaN });
    });
  });
}

export interface EmulatorChild {
  url: string;
  pid: number;
  /** A full collection in the emulator: what one contender stored and deleted is freed before the next starts. */
  collect(): Promise<void>;
  /** Stops it; resolves with its peak RSS in MiB. */
  stop(): Promise<number>;
  deleteFiles(ids: string[]): Promise<void>;
}

export async function startEmulatorChild(script: string, stateDir: string | undefined, nodeFlags: string[]): Promise<EmulatorChild> {
  const proc = spawn(process.execPath, ['--expose-gc', ...nodeFlags, script, API_KEY, ...(stateDir ? [stateDir] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error('the emulator did not start');
  const { url } = JSON.parse(first.value) as { url: string };
  return {
    url,
    pid: proc.pid as number,
    async collect() {
      proc.stdin.write('gc\n');
      if ((await lines.next()).done) throw new Error('the emulator stopped');
    },
    async stop() {
      proc.stdin.end();
      const last = await lines.next();
      return last.done ? NaN : (JSON.parse(last.value) as { maxRssMB: number }).maxRssMB;
    },
    async deleteFiles(ids) {
      for (const id of ids) {
        const response = await fetch(`${url}/v1/files/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${API_KEY}` } });
        if (!response.ok) throw new Error(`delete ${id}: HTTP ${response.status}`);
        await response.arrayBuffer();
      }
    },
  };
}

export async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
