/** Running the CLI in-process with captured streams, and spawning it as a process. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { main } from '../../src/cli/main.ts';
import type { CommandIO } from '../../src/cli/command.ts';

export const CLI_ENTRY = join(import.meta.dirname, '..', '..', 'src', 'cli', 'entry.ts');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `batchline <args>` through main() with `stdin` as its input; resolves with the exit code and both outputs. */
export async function cli(args: string[], stdin = ''): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => (out += chunk));
  stderr.on('data', (chunk) => (err += chunk));
  const io: CommandIO = { stdin: Readable.from([Buffer.from(stdin)]), stdout, stderr, env: {} };
  const code = await main(args, io);
  return { code, stdout: out, stderr: err };
}

/** A Batch API request line. */
export function requestLine(id: string, options: { model?: string; url?: string } = {}): string {
  const url = options.url ?? '/v1/chat/completions';
  const body = url === '/v1/embeddings' ? { model: options.model ?? 'm', input: id } : { model: options.model ?? 'gpt-4o-mini', messages: [{ role: 'user', content: 'hé' }] };
  return JSON.stringify({ custom_id: id, method: 'POST', url, body });
}

/** The JSON lines of a text, parsed. */
export function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** `batchline <args>` as a child process from source, its outputs collected. */
export function spawnCli(args: string[]): ChildProcessWithoutNullStreams & { out(): string; err(): string } {
  const child = spawn(process.execPath, [CLI_ENTRY, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (err += chunk));
  // Writing on after the child has gone fails with EPIPE: the tests look at the exit code instead.
  child.stdin.on('error', () => undefined);
  return Object.assign(child, { out: () => out, err: () => err });
}

/** Resolves once `check` holds, polling; rejects after `ms`. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out waiting for a condition');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
