import { BatchlineError } from '../errors.ts';
import type { Command, CommandIO } from './command.ts';

/** Each command lives in its own module and is loaded only when called. */
const commands: Record<string, () => Promise<Command>> = {
  demo: async () => (await import('./demo.ts')).demoCommand,
  validate: async () => (await import('./validate.ts')).validateCommand,
  shard: async () => (await import('./shard.ts')).shardCommand,
  emulator: async () => (await import('./emulator.ts')).emulatorCommand,
  join: async () => (await import('./join.ts')).joinCommand,
};

function helpText(): string {
  const names = Object.keys(commands).sort();
  return [
    'usage: batchline <command> [options]',
    '',
    'commands:',
    ...names.map((name) => `  ${name}`),
    '',
    'Run `batchline <command> --help` for the options of one command.',
    '',
  ].join('\n');
}

/**
 * Runs the CLI and resolves to the process exit code. Without `io` it uses the
 * process's own streams, and SIGINT/SIGTERM abort the command (exit 130/143)
 * for as long as it runs.
 */
export async function main(argv: string[], io?: CommandIO): Promise<number> {
  if (io) return runCommand(argv, io);
  const signals = listenForSignals();
  try {
    const code = await runCommand(argv, {
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      signal: signals.signal,
    });
    // A command that stopped cleanly on the signal (the emulator) keeps its 0.
    return signals.received && code !== 0 ? signals.exitCode : code;
  } finally {
    signals.stop();
  }
}

async function runCommand(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(helpText());
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-v') {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
    io.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!load) {
    io.stderr.write(`batchline: UNKNOWN_COMMAND: no command ${JSON.stringify(name)}\n\n${helpText()}`);
    return 1;
  }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${command.summary}\n\nusage: ${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    io.stderr.write(`${formatError(err)}\n`);
    return 1;
  }
}

/** One line a person can read: the code, the message and where it happened. */
export function formatError(err: unknown): string {
  if (err instanceof BatchlineError) {
    const where = Object.entries(err.toJSON())
      .filter(([key]) => key !== 'code' && key !== 'message')
      .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
      .join(' ');
    return `batchline: ${err.code}: ${err.message}${where ? ` (${where})` : ''}`;
  }
  const code = (err as { code?: unknown })?.code;
  return `batchline: ${typeof code === 'string' ? code : 'UNEXPECTED'}: ${(err as Error)?.message ?? String(err)}`;
}

/**
 * A signal that fires on the first SIGINT or SIGTERM, so every stage stops and
 * removes what it half-wrote (shard files, join temp dirs). The listeners go
 * after the first signal (a second Ctrl-C ends the process at once) and when
 * the command ends.
 */
function listenForSignals() {
  const controller = new AbortController();
  const state = { signal: controller.signal, received: false, exitCode: 1, stop };
  function onSignal(name: NodeJS.Signals): void {
    stop();
    state.received = true;
    // The shell's convention: 128 + the signal's number.
    state.exitCode = name === 'SIGINT' ? 130 : 143;
    controller.abort(new Error(`interrupted by ${name}`));
  }
  function stop(): void {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return state;
}
